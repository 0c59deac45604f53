import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import type { ExtractLimits, ExtractResult } from './extract-archive.js';
import type { ExtractThreadReply, ExtractThreadRequest } from './extract-thread-messages.js';

/** {@link ExtractLimits} plus a wall-time limit. */
export interface ThreadExtractLimits extends ExtractLimits {
  /** Longest the whole extraction may take; the thread is terminated then. */
  timeoutMs: number;
}

/** Unpacks archives in worker threads; see {@link createThreadExtractor}. */
export interface ThreadExtractor {
  /** `extractArchive` in a thread, stopped at `limits.timeoutMs`. The caller removes `destDir` on failure. */
  extract(archiveFile: string, destDir: string, limits: ThreadExtractLimits): Promise<ExtractResult>;
  /** Terminates the idle thread (running extractions go on in theirs). */
  close(): Promise<void>;
}

/**
 * Where the compiled extraction thread lives. Under vitest this module runs
 * from `src/*.ts`, which a worker thread cannot load, so the built copy in
 * `dist/` is used (tests run after `tsc -b`).
 */
export function extractThreadPath(moduleUrl: string = import.meta.url): string {
  const relative = moduleUrl.endsWith('.ts') ? '../dist/extract-thread.js' : './extract-thread.js';
  return fileURLToPath(new URL(relative, moduleUrl));
}

function startThread(): Thread {
  // Empty environment, no flags of this process, a bounded heap.
  const thread = new Thread(extractThreadPath(), { env: {}, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 256 } });
  thread.unref();
  return thread;
}

/**
 * Runs `extractArchive` in worker threads, so inflating and parsing an
 * archive never blocks the main event loop (heartbeats keep their cadence),
 * and stops it at `timeoutMs` (`E.PKG.INVALID`, `details.reason: "timeout"`)
 * by terminating its thread. One idle thread is kept between installs (a new
 * thread costs about 100 ms of CPU to load its modules); concurrent installs
 * each get their own.
 */
export function createThreadExtractor(): ThreadExtractor {
  let idle: Thread | undefined;
  let nextId = 1;
  return {
    extract(archiveFile, destDir, limits) {
      const thread = idle ?? startThread();
      idle = undefined;
      thread.ref();
      const request: ExtractThreadRequest = {
        id: nextId++,
        archiveFile,
        destDir,
        limits: { maxEntries: limits.maxEntries, maxExtractedBytes: limits.maxExtractedBytes },
      };
      return new Promise<ExtractResult>((resolve, reject) => {
        let settled = false;
        const finish = (outcome: { result: ExtractResult } | { error: AstraError }, reusable: boolean): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          thread.off('message', onMessage).off('error', onError).off('exit', onExit);
          if (reusable && idle === undefined) {
            thread.unref();
            idle = thread;
          } else {
            void thread.terminate();
          }
          if ('result' in outcome) resolve(outcome.result);
          else reject(outcome.error);
        };
        const timer = setTimeout(() => {
          const error = new AstraError(ErrorCode.PKG_INVALID, `unpacking the archive took longer than ${limits.timeoutMs} ms`, {
            details: { reason: 'timeout', timeout_ms: limits.timeoutMs },
          });
          finish({ error }, false);
        }, limits.timeoutMs);
        const onMessage = (reply: ExtractThreadReply): void => {
          if (reply.id !== request.id) return;
          if (reply.ok) {
            finish({ result: reply.result }, true);
            return;
          }
          // The thread runs our code only (no package code), so its codes are ours.
          const error = new AstraError(reply.code, reply.message, reply.details === undefined ? {} : { details: reply.details });
          finish({ error }, true);
        };
        const onError = (err: Error): void => {
          finish(
            { error: new AstraError(ErrorCode.PKG_INVALID, `unpacking the archive failed: ${err.message}`, { cause: err }) },
            false,
          );
        };
        const onExit = (code: number): void => {
          finish(
            { error: new AstraError(ErrorCode.INTERNAL, `the extraction thread stopped (exit code ${code}) without an answer`) },
            false,
          );
        };
        thread.on('message', onMessage).on('error', onError).on('exit', onExit);
        thread.postMessage(request);
      });
    },
    async close() {
      const thread = idle;
      idle = undefined;
      if (thread !== undefined) await thread.terminate();
    },
  };
}

/** One extraction in a thread of its own, terminated afterwards (see {@link createThreadExtractor}). */
export async function extractInThread(archiveFile: string, destDir: string, limits: ThreadExtractLimits): Promise<ExtractResult> {
  const extractor = createThreadExtractor();
  try {
    return await extractor.extract(archiveFile, destDir, limits);
  } finally {
    await extractor.close();
  }
}
