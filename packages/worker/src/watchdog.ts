import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import { exitProcess } from './process-guard.js';
import type { WatchdogTask, WatchdogThreadData } from './watchdog-messages.js';
import { WatchdogTaskTable } from './watchdog-task-table.js';

/** Options of {@link startWatchdog}. */
export interface WatchdogOptions {
  /** Longest the main event loop may stay blocked, in ms (at least 500). */
  timeoutMs: number;
  /** Exit code the process ends with when the loop was blocked too long. */
  exitCode: number;
  /** Told when the watchdog thread itself fails (the process then runs on unwatched). */
  onError?: (err: Error) => void;
}

/** A running watchdog. */
export interface Watchdog {
  /** Tells the watchdog which tasks run now; they are named in its log line. */
  setRunningTasks(tasks: readonly WatchdogTask[]): void;
  /** One task started (O(1), no message to the thread); pass the same object to {@link Watchdog.taskEnded}. */
  taskStarted(task: WatchdogTask): void;
  /** That task ended. */
  taskEnded(task: WatchdogTask): void;
  /** Stops watching (the process may then exit normally). */
  stop(): Promise<void>;
}

/**
 * Where the compiled watchdog thread lives. Under vitest this module runs
 * from `src/*.ts`, which a worker thread cannot load, so the built copy in
 * `dist/` is used (tests run after `tsc -b`).
 */
export function watchdogThreadPath(moduleUrl: string = import.meta.url): string {
  const relative = moduleUrl.endsWith('.ts') ? '../dist/watchdog-thread.js' : './watchdog-thread.js';
  return fileURLToPath(new URL(relative, moduleUrl));
}

/**
 * Watches the main event loop from a worker thread. The main loop beats
 * (increments a shared counter) several times per `timeoutMs`; when the
 * thread sees no beat for longer than `timeoutMs` — an inline handler in a
 * busy loop, say — it writes one fatal JSON log line naming the running
 * tasks to stdout and ends the whole process with `exitCode`, so the
 * orchestrator restarts it. The exit is requested through the inspector,
 * which interrupts running JavaScript; if that cannot work (the loop is
 * blocked in native code), the process is killed with SIGKILL 2 s later.
 * The thread gets an empty environment.
 */
export function startWatchdog(options: WatchdogOptions): Watchdog {
  const { timeoutMs, exitCode } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 500) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `watchdog timeout must be ≥ 500 ms (got ${String(timeoutMs)})`);
  }
  const beat = new SharedArrayBuffer(4);
  const counter = new Int32Array(beat);
  // Not enumerable and unguessable, so package code does not stumble on it.
  const exitKey = `__astraflowWatchdogExit_${randomUUID().replace(/-/g, '')}`;
  Object.defineProperty(globalThis, exitKey, {
    value: (code: number) => exitProcess(code),
    enumerable: false,
    configurable: true,
  });
  const table = new WatchdogTaskTable();
  const data: WatchdogThreadData = {
    beat,
    timeoutMs,
    checkMs: Math.min(250, Math.floor(timeoutMs / 4)),
    exitCode,
    exitKey,
    tasks: table.buffer,
  };
  // No execArgv: flags of this process (--input-type, loaders) are not meant for the thread.
  const thread = new Thread(watchdogThreadPath(), { workerData: data, env: {}, execArgv: [], stdout: false, stderr: false });
  thread.on('error', (err) => options.onError?.(err));
  thread.unref();
  // Several beats per limit, at least one a second, so a block is detected close to the limit, never much earlier.
  const interval = setInterval(() => Atomics.add(counter, 0, 1), Math.max(50, Math.min(1000, Math.floor(timeoutMs / 5))));
  interval.unref();
  return {
    setRunningTasks(tasks) {
      table.set(tasks);
    },
    taskStarted(task) {
      table.add(task);
    },
    taskEnded(task) {
      table.remove(task);
    },
    async stop() {
      clearInterval(interval);
      await thread.terminate();
      Reflect.deleteProperty(globalThis, exitKey);
    },
  };
}
