import { mkdir, readdir, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AstraError, ErrorCode, type Logger } from '@astraflow/protocol';

/** Prefix of staging and trash folders in `packagesDir`; start-up removes the ones no install is using. */
export const STAGING_PREFIX = '.tmp-';

/** File name of the marker; reserved, so no package can be called that. */
export const MARKER_NAME = 'package.json';

// Without it, a package lacking its own package.json would inherit the `type`
// of whatever project happens to contain packagesDir.
const MARKER_PACKAGE_JSON = `${JSON.stringify(
  {
    private: true,
    type: 'commonjs',
    description:
      'Written by the AstraFlow worker: .js files of installed packages that have no package.json of their own are CommonJS.',
  },
  null,
  2,
)}\n`;

/** The `code` of a Node.js system error, if any. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** True when `path` is a folder. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Names of the visible sub-folders of `dir` (none when it does not exist). */
export async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

/** `manifest.json` at the root of the archive, or inside its one top-level folder (`npm pack`'s `package/`). */
export async function findPackageRoot(extractDir: string): Promise<string> {
  if (await isFile(join(extractDir, 'manifest.json'))) return extractDir;
  const entries = await readdir(extractDir, { withFileTypes: true });
  if (entries.length === 0) throw new AstraError(ErrorCode.PKG_INVALID, 'archive is empty');
  const only = entries[0];
  if (entries.length === 1 && only !== undefined && only.isDirectory()) {
    const inner = join(extractDir, only.name);
    if (await isFile(join(inner, 'manifest.json'))) return inner;
  }
  throw new AstraError(ErrorCode.PKG_INVALID, 'manifest.json not found at the archive root or inside a single top-level folder');
}

/** Renames `from` to `to`; false when `from` does not exist. */
export async function moveIfExists(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Creates `packagesDir` and its CommonJS marker `package.json` (kept when present). */
export async function preparePackagesDir(packagesDir: string): Promise<void> {
  await mkdir(packagesDir, { recursive: true });
  try {
    await writeFile(join(packagesDir, MARKER_NAME), MARKER_PACKAGE_JSON, { flag: 'wx' });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
}

/** Folder (under packagesDir) of packages moved aside because their code failed to load at start-up. */
const QUARANTINE_DIR = '.quarantine';

/**
 * Moves a package whose code failed to load out of `packagesDir` (into
 * `.quarantine/`, which is never loaded), so the next start does not run it
 * again: a package can fail a start, never every start. Returns the error to
 * report, naming where the package went (or `error` itself when it could not
 * be moved).
 */
export async function quarantinePackage(
  packagesDir: string,
  ref: { name: string; version: string; path: string },
  error: AstraError,
  logger: Logger,
): Promise<AstraError> {
  const { name, version, path } = ref;
  const dest = join(packagesDir, QUARANTINE_DIR, `${name}@${version}-${Date.now()}`);
  try {
    await mkdir(join(packagesDir, QUARANTINE_DIR), { recursive: true });
    await rename(path, dest);
    await rmdir(join(packagesDir, name)).catch(() => undefined);
  } catch (err) {
    logger.error({ package: name, version, path, err: String(err) }, 'could not quarantine a package that fails to load');
    return error;
  }
  logger.warn({ package: name, version, path, quarantined_to: dest }, 'package quarantined: its code fails to load');
  return new AstraError(error.code, `${error.message} (quarantined to ${dest})`, {
    cause: error,
    details: { ...error.details, quarantined_to: dest },
  });
}
