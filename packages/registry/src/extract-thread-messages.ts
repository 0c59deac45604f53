import type { ExtractLimits, ExtractResult } from './extract-archive.js';

/** One extraction asked of the thread. */
export interface ExtractThreadRequest {
  id: number;
  archiveFile: string;
  destDir: string;
  limits: ExtractLimits;
}

/** The thread's answer to request `id`. */
export type ExtractThreadReply =
  | { id: number; ok: true; result: ExtractResult }
  | { id: number; ok: false; code: string; message: string; details: Record<string, unknown> | undefined };
