/**
 * Test support shared by the runner's tests: a HandlerResolver over the real
 * fixture modules in `../test-fixtures/`, dispatch builders and a recording
 * logger. Not part of the package's API.
 */
import { fileURLToPath } from 'node:url';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import type { ExecDispatchPayload, LogLevel, Logger } from '@astraflow/protocol';
import type { ExecMode } from '@astraflow/protocol';
import { HANDLER_LOADER_URL, loadHandler } from '@astraflow/registry';
import type { HandlerLease, HandlerResolver, ResolvedHandler } from './handler-resolver.js';
import { createSinkLogger } from './sink-logger.js';

/** Absolute path of the fixture handler module. */
export const FIXTURE_MODULE = fileURLToPath(new URL('../test-fixtures/handlers.mjs', import.meta.url));

/** A registered handler for one export of the fixture module (node type = handler name unless given). */
export async function fixtureHandler(
  handlerName: string,
  options: { nodeType?: string; execMode?: ExecMode; exportName?: string; metadata?: Record<string, unknown> } = {},
): Promise<ResolvedHandler> {
  const loaded = await loadHandler(FIXTURE_MODULE, options.exportName, handlerName);
  const nodeType = options.nodeType ?? handlerName;
  return {
    packageName: 'fixtures',
    packageVersion: '1.0.0',
    nodeType,
    runtime: 'node',
    packageRoot: fileURLToPath(new URL('../test-fixtures/', import.meta.url)),
    modulePath: FIXTURE_MODULE,
    exportName: options.exportName,
    handlerName,
    fn: loaded.fn,
    isAsync: loaded.isAsync,
    execMode: options.execMode,
    metadata: options.metadata ?? { source: 'fixture' },
    loaderUrl: HANDLER_LOADER_URL,
  };
}

/** A resolver over fixed handlers that counts leases. */
export interface FixtureResolver extends HandlerResolver {
  readonly acquired: number;
  readonly released: number;
  /** Resolves once every lease taken so far has been released. */
  allReleased(): Promise<void>;
}

/** Builds a {@link FixtureResolver}; unknown node types throw `E.PKG.NOT_FOUND` like the real one. */
export function createFixtureResolver(handlers: ResolvedHandler[]): FixtureResolver {
  const byType = new Map(handlers.map((handler) => [handler.nodeType, handler]));
  let acquired = 0;
  let released = 0;
  let waiters: Array<() => void> = [];
  const check = (): void => {
    if (acquired !== released) return;
    const ready = waiters;
    waiters = [];
    for (const waiter of ready) waiter();
  };
  return {
    get acquired() {
      return acquired;
    },
    get released() {
      return released;
    },
    allReleased: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        check();
      }),
    acquire(packageName, packageVersion, nodeType): HandlerLease {
      const handler = byType.get(nodeType);
      if (handler === undefined || packageName !== 'fixtures' || packageVersion !== '1.0.0') {
        throw new AstraError(
          ErrorCode.PKG_NOT_FOUND,
          `no handler for ${packageName}@${packageVersion} ${nodeType}; available: ${[...byType.keys()].join(', ')}`,
        );
      }
      acquired += 1;
      let done = false;
      return {
        handler,
        release() {
          if (done) return;
          done = true;
          released += 1;
          check();
        },
      };
    },
  };
}

let counter = 0;

/** A dispatch for a fixture node. */
export function dispatchFor(
  nodeType: string,
  parameters: Record<string, unknown> = {},
  overrides: Partial<ExecDispatchPayload> = {},
): ExecDispatchPayload {
  counter += 1;
  return {
    run_id: `run-${counter}`,
    task_id: `task-${counter}`,
    node_id: `node-${counter}`,
    node_type: nodeType,
    package_name: 'fixtures',
    package_version: '1.0.0',
    parameters,
    constraints: {},
    ...overrides,
  };
}

/** One recorded log call. */
export interface LogRecord {
  level: LogLevel;
  bindings: Record<string, unknown>;
  fields: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that records every call (with its accumulated child bindings). */
export function createRecordingLogger(
  levels: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = createSinkLogger(
    (level, bindings, fields, msg) => records.push({ level, bindings, fields: fields ?? {}, msg }),
    (level) => levels.includes(level),
  );
  return Object.assign(logger, { records });
}
