import { errorMessage } from '@astraflow/protocol';
import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { configError } from './config-error.js';
import { pathExists } from './config-file.js';

/**
 * Reads `path` as a `.env` file without touching `process.env`; an absent
 * file is an empty set of variables, an unreadable one an `E.CONFIG.INVALID`.
 */
export function readDotenvFile(path: string, label: string): Readonly<Record<string, string>> {
  if (!pathExists(path)) return {};
  try {
    return parse(readFileSync(path));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? errorMessage(error);
    throw configError(`cannot read ${label}: ${reason}`, { source: label, path }, undefined, error);
  }
}
