import {
  AstraError,
  ErrorCode,
  FrameType,
  RefusalReason,
  createNoopLogger,
  redactUrl,
  type Frame,
  type FrameError,
  type Logger,
  type PkgEventPayload,
  type PkgInstallPayload,
  type PkgUninstallPayload,
  type RefusalReasonValue,
} from '@astraflow/protocol';
import type { PackageManager } from '@astraflow/registry';
import type { Outbox } from '../outbox.js';
import { dropRefusalReason } from './refusal.js';
import type { DropReason, RouteHandler } from './router.js';

/** Dependencies of the package command handlers. */
export interface PackageCommandOptions {
  packages: PackageManager;
  outbox: Outbox;
  /** Sends a fresh `control.register` with the new inventory. */
  reregister(): Promise<void>;
  /** True once the worker drains: package commands are refused (answered `failed`, reason `draining`). */
  isDraining?(): boolean;
  /**
   * Also send `biz.pkg.event` status `uninstalled` after an uninstall (setting `package_uninstall_event`).
   * Off by default: the existing scheduler accepts only `installed`/`failed`; the re-register reports it.
   */
  uninstallEvent?: boolean;
  logger?: Logger;
}

/**
 * `biz.pkg.install` / `biz.pkg.uninstall` (README, "Writing node packages"; docs/protocol.md §6): run the
 * package manager, answer an install with `biz.pkg.event` (corr = the
 * command's id), and re-register so the scheduler sees the new inventory —
 * for an uninstall that re-register is the report. A command refused before
 * it ran (draining, dropped by a full queue, shutdown) is answered `failed`
 * with `details.reason`, so none vanishes unanswered.
 */
export function createPackageCommandHandlers(options: PackageCommandOptions): {
  install: RouteHandler;
  uninstall: RouteHandler;
  /**
   * Answers an install or uninstall that failed validation (schema, size,
   * envelope) with `biz.pkg.event` failed, naming whatever package could be
   * read: the scheduler waits for an answer to every command.
   */
  rejectInvalid(frame: Frame, error: FrameError): Promise<void>;
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
      log.warn({ err }, 're-register after a package change failed');
    }
  }

  function failure(err: unknown): { code: string; message: string } {
    const error = AstraError.wrap(err, ErrorCode.INTERNAL);
    return { code: error.code, message: error.message };
  }

  /** Answers a command that never ran: `failed`, with why, so the scheduler may send it again later or elsewhere. */
  function refuse(frame: Frame, reason: RefusalReasonValue): void {
    const cmd = frame.payload as Partial<PkgInstallPayload>;
    const name = typeof cmd.name === 'string' && cmd.name !== '' ? cmd.name : '?';
    const version = typeof cmd.version === 'string' && cmd.version !== '' ? cmd.version : '*';
    const message = `${frame.type} refused before it ran (${reason})`;
    log.warn({ type: frame.type, id: frame.id, name, version, reason }, message);
    void event(frame, {
      name,
      version,
      status: 'failed',
      details: { code: ErrorCode.RUNNER_CANCELLED, message, reason },
    }).catch((err: unknown) => log.error({ err, id: frame.id }, 'could not answer a refused package command'));
  }

  const admit = (frame: Frame): boolean => {
    if (!options.isDraining?.()) return true;
    refuse(frame, RefusalReason.DRAINING);
    return false;
  };
  const onDropped = (frame: Frame, reason: DropReason): void => refuse(frame, dropRefusalReason[reason]);

  async function rejectInvalid(frame: Frame, error: FrameError): Promise<void> {
    const cmd = frame.payload as Record<string, unknown>;
    const name = typeof cmd.name === 'string' && cmd.name !== '' ? cmd.name : '?';
    const version = typeof cmd.version === 'string' && cmd.version !== '' ? cmd.version : '*';
    log.warn({ id: frame.id, type: frame.type, name, version, code: error.code }, 'invalid package command refused');
    try {
      await event(frame, { name, version, status: 'failed', details: { code: error.code, message: error.message } });
    } catch (err) {
      log.error({ err, id: frame.id }, 'could not answer an invalid package command');
    }
  }

  return {
    rejectInvalid,
    install: {
      admit,
      onDropped,
      rejectInvalid,
      async handle(frame) {
        const cmd = frame.payload as PkgInstallPayload;
        log.info(
          { name: cmd.name, version: cmd.version, url: cmd.url === undefined ? undefined : redactUrl(cmd.url) },
          'installing package',
        );
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
      admit,
      onDropped,
      rejectInvalid,
      async handle(frame) {
        const cmd = frame.payload as PkgUninstallPayload;
        const version = cmd.version ?? undefined;
        log.info({ name: cmd.name, version: version ?? '*' }, 'uninstalling package');
        try {
          const removed = await options.packages.uninstall(cmd.name, version);
          if (removed.length === 0) {
            throw new AstraError(ErrorCode.PKG_NOT_FOUND, `package ${cmd.name}${version ? `@${version}` : ''} is not installed`);
          }
          await reregister();
          log.info({ name: cmd.name, versions: removed.map((pkg) => pkg.version) }, 'package uninstalled');
          if (options.uninstallEvent === true) {
            for (const pkg of removed) await event(frame, { name: pkg.name, version: pkg.version, status: 'uninstalled' });
          }
        } catch (err) {
          const details = failure(err);
          log.warn({ name: cmd.name, version, ...details }, 'package uninstall failed');
          await event(frame, { name: cmd.name, version: version ?? '*', status: 'failed', details });
        }
      },
    },
  };
}
