import {
  AstraError,
  ErrorCode,
  FrameType,
  createNoopLogger,
  type Frame,
  type Logger,
  type PkgEventPayload,
  type PkgInstallPayload,
  type PkgUninstallPayload,
} from '@astraflow/protocol';
import type { PackageManager } from '@astraflow/registry';
import type { Outbox } from '../outbox.js';
import type { RouteHandler } from './router.js';

/** Dependencies of the package command handlers. */
export interface PackageCommandOptions {
  packages: PackageManager;
  outbox: Outbox;
  /** Sends a fresh `control.register` with the new inventory. */
  reregister(): Promise<void>;
  logger?: Logger;
}

/**
 * `biz.pkg.install` / `biz.pkg.uninstall` (WORKER.md §Packages): run the
 * package manager, answer with `biz.pkg.event` (corr = the command's id),
 * and re-register so the scheduler sees the new inventory.
 */
export function createPackageCommandHandlers(options: PackageCommandOptions): {
  install: RouteHandler;
  uninstall: RouteHandler;
} {
  const log = (options.logger ?? createNoopLogger()).child({ component: 'packages' });

  async function event(frame: Frame, payload: PkgEventPayload): Promise<void> {
    await options.outbox.send(FrameType.PKG_EVENT, payload, { corr: frame.id, ackRequest: true });
  }

  async function reregister(): Promise<void> {
    try {
      await options.reregister();
    } catch (err) {
      // The next handshake carries the inventory anyway.
      log.warn({ err: (err as Error).message }, 're-register after a package change failed');
    }
  }

  function failure(err: unknown): { code: string; message: string } {
    const error = AstraError.wrap(err, ErrorCode.INTERNAL);
    return { code: error.code, message: error.message };
  }

  return {
    install: {
      async handle(frame) {
        const cmd = frame.payload as PkgInstallPayload;
        log.info({ name: cmd.name, version: cmd.version, url: cmd.url }, 'installing package');
        try {
          const result = await options.packages.install(cmd);
          await event(frame, {
            name: cmd.name,
            version: cmd.version,
            status: 'installed',
            details: { already_installed: result.alreadyInstalled },
          });
          await reregister();
        } catch (err) {
          const details = failure(err);
          log.warn({ name: cmd.name, version: cmd.version, ...details }, 'package install failed');
          await event(frame, { name: cmd.name, version: cmd.version, status: 'failed', details });
        }
      },
    },
    uninstall: {
      async handle(frame) {
        const cmd = frame.payload as PkgUninstallPayload;
        const version = cmd.version ?? undefined;
        log.info({ name: cmd.name, version: version ?? '*' }, 'uninstalling package');
        try {
          const removed = await options.packages.uninstall(cmd.name, version);
          if (removed.length === 0) {
            throw new AstraError(
              ErrorCode.PKG_NOT_FOUND,
              `package ${cmd.name}${version ? `@${version}` : ''} is not installed`,
            );
          }
          for (const pkg of removed) await event(frame, { name: pkg.name, version: pkg.version, status: 'uninstalled' });
          await reregister();
        } catch (err) {
          const details = failure(err);
          log.warn({ name: cmd.name, version, ...details }, 'package uninstall failed');
          await event(frame, { name: cmd.name, version: version ?? '*', status: 'failed', details });
        }
      },
    },
  };
}
