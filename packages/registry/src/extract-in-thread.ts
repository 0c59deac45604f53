import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import type { ExtractLimits, ExtractResult } from './extract-archive.js';
import type { ExtractThreadData, ExtractThreadReply } from './extract-thread-messages.js';

/** {@link ExtractLimits} plus a wall-time limit. */
export interface ThreadExtractLimits extends ExtractLimits {
  /** Longest the whole extraction may take; the thread is terminated then. */
  timeoutMs: number;
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

/**
 * Runs `extractArchive` in a worker thread, so inflating and parsing an
 * archive never blocks the main event loop (heartbeats keep their cadence),
 * and stops it at `timeoutMs` (`E.PKG.INVALID`, `details.reason: "timeout"`).
 * The thread gets an empty environment and a bounded heap. The caller
 * removes `destDir` on failure, as with `extractArchive`.
 */
export function extractInThread(archiveFile: string, destDir: string, limits: ThreadExtractLimits): Promise<ExtractResult> {
  const data: ExtractThreadData = {
    archiveFile,
    destDir,
    limits: { maxEntries: limits.maxEntries, maxExtractedBytes: limits.maxExtractedBytes },
  };
  return new Promise<ExtractResult>((resolve, reject) => {
    const thread = new Thread(extractThreadPath(), { workerData: data, env: {}, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 256 } });
    let settled = false;
    const finish = (outcome: { result: ExtractResult } | { error: AstraError }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void thread.terminate();
      if ('result' in outcome) resolve(outcome.result);
      else reject(outcome.error);
    };
    const timer = setTimeout(() => {
      finish({
        error: new AstraError(ErrorCode.PKG_INVALID, `unpacking the archive took longer than ${limits.timeoutMs} ms`, {
          details: { reason: 'timeout', timeout_ms: limits.timeoutMs },
        }),
      });
    }, limits.timeoutMs);
    thread.on('message', (reply: ExtractThreadReply) => {
      if (reply.ok) return finish({ result: reply.result });
      // The thread runs our code only (no package code), so its codes are ours.
      finish({ error: new AstraError(reply.code, reply.message, reply.details === undefined ? {} : { details: reply.details }) });
    });
    thread.on('error', (err) => {
      finish({ error: new AstraError(ErrorCode.PKG_INVALID, `unpacking the archive failed: ${err.message}`, { cause: err }) });
    });
    thread.on('exit', (code) => {
      finish({ error: new AstraError(ErrorCode.INTERNAL, `the extraction thread stopped (exit code ${code}) without an answer`) });
    });
  });
}
