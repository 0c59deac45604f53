import { readFileSync } from 'node:fs';
import { AstraError, ErrorCode } from '@astraflow/protocol';

let cached: string | undefined;

/**
 * This package's own version, read from its package.json at runtime so the
 * default `worker_version` follows releases without a build step.
 */
export function packageVersion(): string {
  if (cached === undefined) {
    // Both src/ (tests) and dist/ (published) sit one level below package.json.
    const raw = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(raw) as { version?: unknown }).version;
    if (typeof version !== 'string' || version.length === 0) {
      throw new AstraError(ErrorCode.INTERNAL, '@astraflow/config: its package.json has no version');
    }
    cached = version;
  }
  return cached;
}
