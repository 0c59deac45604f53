import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import type { ThreadHandlerRef, ThreadTask, WarmTask } from './thread-messages.js';
import type { RunnerThreadOptions } from './types.js';

// piscina (CommonJS under Node) is required when the first thread is needed: a worker whose
// packages have no thread handlers never loads it (~7 MiB of RSS).
const requireLazily = createRequire(import.meta.url);
const loadPiscina = (): typeof Piscina => (requireLazily('piscina') as typeof import('piscina')).Piscina;

/** The worker-thread pool the runner sends `thread` handlers to. */
export interface ThreadPool {
  /** Runs one task; the promise rejects if `signal` aborts (the thread is then terminated) or the pool closes. */
  run(task: ThreadTask, signal: AbortSignal): Promise<string>;
  /**
   * Starts the pool if needed and loads `handlers` into its idle threads, so
   * the first task does not pay for a thread start or a module load.
   * Resolves with how many threads were warmed; never rejects.
   */
  warm(handlers: ThreadHandlerRef[]): Promise<number>;
  /** True once {@link close} was called. */
  readonly closed: boolean;
  /** Terminates every thread; running tasks reject. */
  close(): Promise<void>;
}

/**
 * Where the compiled thread worker lives. Under vitest this module runs
 * from `src/*.ts`, which a worker thread cannot load, so the built copy in
 * `dist/` is used (tests run after `tsc -b`).
 */
export function threadWorkerPath(moduleUrl: string = import.meta.url): string {
  const relative = moduleUrl.endsWith('.ts') ? '../dist/thread-worker.js' : './thread-worker.js';
  return fileURLToPath(new URL(relative, moduleUrl));
}

function checkCount(value: number | undefined, name: string, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

/** How long a warm-up task may take before its thread is terminated (a module that hangs while loading). */
export const WARM_TIMEOUT_MS = 30_000;

/**
 * A piscina pool started on first use or warm-up, so a runner whose handlers
 * all run inline never spawns a thread.
 */
export function createThreadPool(options: RunnerThreadOptions = {}): ThreadPool {
  checkCount(options.minThreads, 'threads.minThreads', 0);
  checkCount(options.maxThreads, 'threads.maxThreads', 1);
  checkCount(options.idleTimeoutMs, 'threads.idleTimeoutMs', 0);
  const maxThreads = options.maxThreads ?? Math.max(2, availableParallelism());
  const minThreads = Math.min(options.minThreads ?? 0, maxThreads);
  let piscina: Piscina | undefined;
  let closed = false;
  const start = (): Piscina =>
    (piscina ??= new (loadPiscina())({
      filename: threadWorkerPath(),
      minThreads,
      maxThreads,
      idleTimeout: options.idleTimeoutMs ?? 30_000,
      // Between tasks a thread must keep serving its event loop (no Atomics.wait parking).
      atomics: 'disabled',
    }));

  return {
    get closed() {
      return closed;
    },
    run(task, signal) {
      if (closed) return Promise.reject(new AstraError(ErrorCode.RUNNER_CANCELLED, 'the thread pool is closed'));
      return start().run(task, { transferList: [task.port], signal }) as Promise<string>;
    },
    async warm(handlers) {
      if (closed || handlers.length === 0 || minThreads === 0) return 0;
      const pool = start();
      const task: WarmTask = { warm: handlers };
      // One warm-up per kept thread; each thread takes one task at a time, so they spread over the threads.
      const runs = Array.from(
        { length: minThreads },
        () => pool.run(task, { signal: AbortSignal.timeout(WARM_TIMEOUT_MS) }) as Promise<string>,
      );
      const settled = await Promise.allSettled(runs);
      return settled.filter((entry) => entry.status === 'fulfilled').length;
    },
    async close() {
      closed = true;
      const pool = piscina;
      piscina = undefined;
      if (pool !== undefined) await pool.destroy();
    },
  };
}
