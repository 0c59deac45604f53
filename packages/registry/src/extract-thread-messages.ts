import type { ExtractLimits, ExtractResult } from './extract-archive.js';

/** `workerData` of the extraction thread. */
export interface ExtractThreadData {
  archiveFile: string;
  destDir: string;
  limits: ExtractLimits;
}

/** The extraction thread's one message. */
export type ExtractThreadReply =
  | { ok: true; result: ExtractResult }
  | { ok: false; code: string; message: string; details: Record<string, unknown> | undefined };
