// Entry of the extraction worker thread (see extract-in-thread.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import { extractArchive } from './extract-archive.js';
import type { ExtractThreadData, ExtractThreadReply } from './extract-thread-messages.js';

const { archiveFile, destDir, limits } = workerData as ExtractThreadData;

extractArchive(archiveFile, destDir, limits).then(
  (result) => parentPort?.postMessage({ ok: true, result } satisfies ExtractThreadReply),
  (err: unknown) => {
    const error = AstraError.wrap(err, ErrorCode.INTERNAL);
    parentPort?.postMessage({ ok: false, code: error.code, message: error.message, details: error.details } satisfies ExtractThreadReply);
  },
);
