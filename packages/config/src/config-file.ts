import { errorMessage } from '@astraflow/protocol';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { configError } from './config-error.js';

// The YAML parser (CommonJS under Node) is required only when a YAML file is read: most workers
// are configured by environment and never pay for it (~8 MiB of RSS).
const requireLazily = createRequire(import.meta.url);
const loadYaml = (): typeof import('yaml') => requireLazily('yaml') as typeof import('yaml');

/** The default config file locations, first existing one wins (relative ones against the cwd). */
export const defaultConfigPaths: readonly string[] = Object.freeze([
  '/etc/astraflow/worker.yaml',
  '/etc/astraflow/worker.yml',
  './config/worker.yaml',
  './config/worker.yml',
]);

/** True when something exists at `path` (a folder counts, so reading it fails loudly). */
export function pathExists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  const column = (lines.at(-1)?.length ?? 0) + 1;
  return `line ${lines.length}, column ${column}`;
}

// V8 quotes part of the source in some JSON messages (`Unexpected token 'a', ..."en": abc}"
// is not valid JSON`), and that snippet could hold a secret: only a fixed wording of the
// reason and the position are kept.
function jsonReason(error: unknown, text: string): string {
  const message = errorMessage(error);
  let reason: string;
  if (/end of (?:JSON )?input/i.test(message)) reason = 'unexpected end of input';
  else if (/^Unexpected (?:token|non-whitespace character|string|number)/i.test(message)) reason = 'unexpected character';
  else {
    const head = message.split(/,\s*(?:"|\.\.\.)| in JSON| at position|\s\(line/)[0]?.trim() ?? '';
    reason = head !== '' && !/["`]|\.\.\./.test(head) ? head : 'not valid JSON';
  }
  const position = /at position (\d+)/.exec(message)?.[1];
  const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message);
  let where = '';
  if (position !== undefined) where = ` at ${lineAndColumn(text, Number(position))}`;
  else if (lineColumn !== null) where = ` at line ${lineColumn[1]}, column ${lineColumn[2]}`;
  return `${reason}${where}`;
}

function parseContent(path: string, text: string): unknown {
  if (extname(path).toLowerCase() === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw configError(`malformed JSON in config file ${path}: ${jsonReason(error, text)}`, { source: path, path });
    }
  }
  // Warnings (unknown tags and such) are not fatal; errors are, and their
  // plain messages carry no source text, so no secret can leak through them.
  const { parseDocument } = loadYaml();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const first = document.errors[0];
  if (first !== undefined) {
    throw configError(`malformed YAML in config file ${path}: ${first.message} at ${lineAndColumn(text, first.pos[0])}`, {
      source: path,
      path,
    });
  }
  try {
    return document.toJS() as unknown;
  } catch (error) {
    const reason = errorMessage(error);
    throw configError(`malformed YAML in config file ${path}: ${reason}`, { source: path, path });
  }
}

function describeTopLevel(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

/**
 * Reads one YAML or JSON config file (`.json` is parsed as JSON, anything
 * else as YAML) and returns its top-level mapping. An empty YAML file is an
 * empty mapping. Unreadable, malformed or non-mapping files throw
 * `E.CONFIG.INVALID` naming the path.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? errorMessage(error);
    throw configError(`cannot read config file ${path}: ${reason}`, { source: path, path }, undefined, error);
  }
  const parsed = parseContent(path, text);
  const isJson = extname(path).toLowerCase() === '.json';
  if ((parsed === null || parsed === undefined) && !isJson) return {};
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw configError(
      `config file ${path} must hold a mapping of setting names to values at the top level, got ${describeTopLevel(parsed)}`,
      { source: path, path },
    );
  }
  return parsed as Record<string, unknown>;
}
