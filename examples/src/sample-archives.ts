import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AstraError, ErrorCode } from '@astraflow/protocol';

/** One built sample archive. */
export interface SampleArchive {
  name: string;
  version: string;
  /** Absolute path of the `.tgz` file. */
  path: string;
  /** Lower-case hex sha256 of the file. */
  sha256: string;
}

interface IndexEntry {
  name: string;
  version: string;
  file: string;
  sha256: string;
}

/** Absolute path of the folder holding the built archives and their `index.json`. */
export const sampleArchivesDir: string = fileURLToPath(new URL('./archives/', import.meta.url));

function readIndex(): IndexEntry[] {
  const indexPath = join(sampleArchivesDir, 'index.json');
  let text: string;
  try {
    text = readFileSync(indexPath, 'utf8');
  } catch (cause) {
    throw new AstraError(
      ErrorCode.PKG_NOT_FOUND,
      `sample archives are not built (${indexPath} missing); run: pnpm --filter @astraflow/examples build`,
      { cause },
    );
  }
  return JSON.parse(text) as IndexEntry[];
}

/** Every built sample archive, sorted by name then version. */
export function sampleArchives(): SampleArchive[] {
  return readIndex().map((e) => ({ name: e.name, version: e.version, path: join(sampleArchivesDir, e.file), sha256: e.sha256 }));
}

/**
 * The built archive of one sample package. Throws `E.PKG.NOT_FOUND` naming
 * the available ones when there is no such sample (or the archives are not built).
 */
export function sampleArchive(name: string, version: string): SampleArchive {
  const all = sampleArchives();
  const found = all.find((a) => a.name === name && a.version === version);
  if (found === undefined) {
    const available = all.map((a) => `${a.name}@${a.version}`).join(', ') || 'none';
    throw new AstraError(ErrorCode.PKG_NOT_FOUND, `no sample archive ${name}@${version} (available: ${available})`);
  }
  return found;
}
