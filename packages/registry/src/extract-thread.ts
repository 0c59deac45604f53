// Entry of an extraction worker thread (see extract-in-thread.ts): serves
// one request at a time, for as long as the thread is kept.
import { parentPort } from 'node:worker_threads';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import { extractArchive } from './extract-archive.js';
import type { ExtractThreadReply, ExtractThreadRequest } from './extract-thread-messages.js';

parentPort?.on('message', ({ id, archiveFile, destDir, limits }: ExtractThreadRequest) => {
  extractArchive(archiveFile, destDir, limits).then(
    (result) => parentPort?.postMessage({ id, ok: true, result } satisfies ExtractThreadReply),
    (err: unknown) => {
      const error = AstraError.wrap(err, ErrorCode.INTERNAL);
      parentPort?.postMessage({
        id,
        ok: false,
        code: error.code,
        message: error.message,
        details: error.details,
      } satisfies ExtractThreadReply);
    },
  );
});
