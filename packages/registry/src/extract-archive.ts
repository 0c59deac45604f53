import { lstat, readdir, realpath } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol';
import { Parser, Unpack, type ReadEntry } from 'tar';
import { isInside } from './entrypoint.js';
import { MAX_TRAILING_BYTES, maxTarBytes, openTarStream } from './tar-stream.js';

/** Limits that stop archive bombs. */
export interface ExtractLimits {
  /** Sum of the sizes of all files. */
  maxExtractedBytes: number;
  /** Number of entries (files, folders, links). */
  maxEntries: number;
}

/** What was extracted. */
export interface ExtractResult {
  entries: number;
  bytes: number;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const DEVICE_TYPES = new Set(['CharacterDevice', 'BlockDevice', 'FIFO']);

/**
 * Decides, entry by entry and before anything is written, whether an archive
 * is acceptable. An archive that tries to leave its folder is rejected as a
 * whole (`E.PKG.PERMISSION`), never silently rewritten.
 */
export class ArchiveEntryPolicy {
  entries = 0;
  bytes = 0;
  private readonly files = new Set<string>();
  private readonly symlinks = new Set<string>();

  constructor(private readonly limits: ExtractLimits) {}

  /** Returns the reason to reject `entry`, or undefined to accept it. */
  check(entry: Pick<ReadEntry, 'path' | 'type' | 'size' | 'linkpath'>): AstraError | undefined {
    const raw = entry.path;
    const show = JSON.stringify(raw);
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) {
      return new AstraError(ErrorCode.PKG_INVALID, `archive has more than ${this.limits.maxEntries} entries`);
    }
    if (raw.includes('\0') || raw.includes('\\')) {
      return new AstraError(ErrorCode.PKG_INVALID, `archive entry ${show} contains a backslash or NUL character`);
    }
    if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) {
      return new AstraError(ErrorCode.PKG_PERMISSION, `archive entry ${show} has an absolute path`);
    }
    const segments = raw.split('/');
    if (segments.includes('..')) {
      return new AstraError(ErrorCode.PKG_PERMISSION, `archive entry ${show} leaves the extraction folder ("..")`);
    }
    const path = segments.filter((s) => s !== '' && s !== '.').join('/');
    const parts = path === '' ? [] : path.split('/');
    for (let i = 1; i < parts.length; i += 1) {
      const prefix = parts.slice(0, i).join('/');
      if (this.symlinks.has(prefix)) {
        return new AstraError(ErrorCode.PKG_PERMISSION, `archive entry ${show} would be written through the symlink "${prefix}"`);
      }
    }
    const type = entry.type;
    if (type === 'Directory') return undefined;
    if (path === '') {
      return new AstraError(ErrorCode.PKG_INVALID, `archive entry ${show} (${type}) would replace the extraction folder`);
    }
    if (FILE_TYPES.has(type)) {
      this.bytes += entry.size ?? 0;
      if (this.bytes > this.limits.maxExtractedBytes) {
        return new AstraError(ErrorCode.PKG_INVALID, `archive unpacks to more than ${this.limits.maxExtractedBytes} bytes`);
      }
      this.files.add(path);
      return undefined;
    }
    if (DEVICE_TYPES.has(type)) {
      return new AstraError(ErrorCode.PKG_PERMISSION, `archive entry ${show} is a device or FIFO (${type})`);
    }
    const target = entry.linkpath ?? '';
    if (type === 'SymbolicLink') {
      if (target === '' || target.includes('\0')) {
        return new AstraError(ErrorCode.PKG_INVALID, `symlink ${show} has no target`);
      }
      const resolved = posix.normalize(posix.join(posix.dirname(path), target));
      if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
        return new AstraError(ErrorCode.PKG_PERMISSION, `symlink ${show} -> "${target}" points outside the package`);
      }
      this.symlinks.add(path);
      return undefined;
    }
    if (type === 'Link') {
      const linked = target.split('/').filter((s) => s !== '' && s !== '.');
      if (target.startsWith('/') || linked.includes('..') || !this.files.has(linked.join('/'))) {
        return new AstraError(
          ErrorCode.PKG_PERMISSION,
          `hard link ${show} -> "${target}" does not name an earlier file of the archive`,
        );
      }
      return undefined;
    }
    return new AstraError(ErrorCode.PKG_INVALID, `archive entry ${show} has an unsupported type (${type})`);
  }
}

function mapTarError(err: unknown): AstraError {
  if (AstraError.isInstance(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = errorMessage(err);
  if (code === 'TAR_SYMLINK_ERROR') {
    return new AstraError(ErrorCode.PKG_PERMISSION, `archive writes through a symbolic link: ${message}`, { cause: err });
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'EOF') {
    // File-system trouble on our side (disk full, permissions), not a bad archive.
    return new AstraError(ErrorCode.INTERNAL, `could not write the extracted package: ${message}`, { cause: err });
  }
  return new AstraError(ErrorCode.PKG_INVALID, `archive is corrupt or not a tar archive: ${message}`, { cause: err });
}

/** Every symlink in the extracted tree must really (not only lexically) stay inside it. */
async function verifySymlinks(root: string): Promise<void> {
  const realRoot = await realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(full);
        } catch (cause) {
          throw new AstraError(ErrorCode.PKG_INVALID, `symlink ${full.slice(root.length + 1)} is dangling or loops`, { cause });
        }
        if (!isInside(realRoot, target)) {
          throw new AstraError(ErrorCode.PKG_PERMISSION, `symlink ${full.slice(root.length + 1)} resolves outside the package`);
        }
      } else if (entry.isDirectory()) {
        await walk(full);
      }
    }
  };
  await walk(root);
}

/**
 * Feeds `source` into `parser` with backpressure until the parser saw the
 * end-of-archive marker. `afterEnd` says what to do with the rest: `count`
 * reads it (without parsing) and reports more than {@link MAX_TRAILING_BYTES}
 * through `onTrailing`; `stop` closes the source. Tar buffers whatever it
 * is given after the end, re-copying it per chunk, so it never gets it.
 */
function feed(source: Readable, parser: Parser, afterEnd: 'count' | 'stop', onTrailing: (err: AstraError) => void): void {
  let ended = false;
  let trailing = 0;
  parser.on('eof', () => {
    ended = true;
    if (afterEnd === 'stop') source.destroy();
    source.resume();
    parser.end();
  });
  parser.on('drain', () => source.resume());
  source.on('data', (chunk: Buffer) => {
    if (!ended) {
      if (!parser.write(chunk)) source.pause();
      return;
    }
    trailing += chunk.length;
    if (trailing > MAX_TRAILING_BYTES) {
      source.destroy();
      onTrailing(
        new AstraError(
          ErrorCode.PKG_INVALID,
          `archive has more than ${MAX_TRAILING_BYTES} bytes after its end-of-archive marker`,
          {
            details: { reason: 'trailing_data' },
          },
        ),
      );
    }
  });
  source.on('end', () => {
    if (!ended) parser.end();
  });
}

function isUnrecoverable(err: unknown): boolean {
  const e = err as { recoverable?: unknown; tarCode?: unknown } | null;
  return e?.recoverable === false || e?.tarCode === 'TAR_ABORT';
}

/**
 * First pass: reads every header (nothing is written) and stops at the first
 * entry the policy refuses, so bombs cost no disk and little time.
 */
async function inspectArchive(archiveFile: string, limits: ExtractLimits): Promise<ExtractResult> {
  const policy = new ArchiveEntryPolicy(limits);
  const source = await openTarStream(archiveFile, maxTarBytes(limits.maxExtractedBytes, limits.maxEntries));
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    let parserClosed = false;
    let sourceDone = false;
    let violation: AstraError | undefined;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      source.destroy();
      if (violation !== undefined) reject(violation);
      else if (err !== undefined) reject(mapTarError(err));
      else resolve();
    };
    const refuse = (problem: AstraError): void => {
      if (violation !== undefined) return;
      violation = problem;
      // A plain Error: tar decorates what it is given.
      parser.abort(new Error(problem.message));
      finish();
    };
    const parser: Parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const problem = violation === undefined ? policy.check(entry) : undefined;
        if (problem !== undefined) refuse(problem);
        entry.resume();
      },
    });
    parser.on('ignoredEntry', (entry: ReadEntry) => {
      // Unknown entry types and oversized metadata are skipped by tar; here they fail the archive.
      refuse(
        new AstraError(
          ErrorCode.PKG_INVALID,
          `archive entry ${JSON.stringify(entry.path)} has an unsupported type (${entry.type}) or oversized metadata`,
        ),
      );
    });
    parser.on('error', (err: unknown) => finish(err));
    // Done when tar is done and the rest of the stream was counted (a bomb may hide after the end marker).
    parser.on('close', () => {
      parserClosed = true;
      if (sourceDone) finish();
    });
    source.on('end', () => {
      sourceDone = true;
      if (parserClosed) finish();
    });
    source.on('error', (err) => finish(err));
    feed(source, parser, 'count', (err) => {
      violation ??= err;
      finish();
    });
  });
  return { entries: policy.entries, bytes: policy.bytes };
}

/**
 * Second pass: writes the (already inspected) entries. The policy runs again
 * as a safety net; a refused entry is skipped rather than aborting, so that
 * tar finishes its pending writes before this resolves or rejects.
 */
async function unpackArchive(archiveFile: string, destDir: string, limits: ExtractLimits): Promise<void> {
  const policy = new ArchiveEntryPolicy(limits);
  const source = await openTarStream(archiveFile, maxTarBytes(limits.maxExtractedBytes, limits.maxEntries));
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    let violation: AstraError | undefined;
    let firstError: unknown;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      source.destroy();
      if (violation !== undefined) reject(violation);
      else if (firstError !== undefined) reject(mapTarError(firstError));
      else resolve();
    };
    const unpack: Unpack = new Unpack({
      cwd: destDir,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      filter: (_path, entry) => {
        if (violation !== undefined) return false;
        const readEntry = entry as ReadEntry;
        const problem = policy.check(readEntry);
        if (problem !== undefined) {
          violation = problem;
          return false;
        }
        // Keep owner access (so the worker can read and later delete), drop setuid/sticky and group/other write.
        const isDir = readEntry.type === 'Directory';
        readEntry.mode = ((readEntry.mode ?? (isDir ? 0o755 : 0o644)) & 0o755) | (isDir ? 0o700 : 0o600);
        return true;
      },
    });
    unpack.on('error', (err: unknown) => {
      firstError ??= err;
      // After an abort tar never closes; other errors are followed by 'close' once pending writes finish.
      if (isUnrecoverable(err)) finish();
      else setTimeout(finish, 5000).unref();
    });
    unpack.on('close', finish);
    source.on('error', (err) => {
      firstError ??= err;
      finish();
    });
    feed(source, unpack, 'stop', (err) => {
      firstError ??= err;
      finish();
    });
  });
}

/**
 * Extracts a `.tar`/`.tar.gz` into `destDir` (which must exist and be empty).
 * Every entry is checked by {@link ArchiveEntryPolicy} before anything is
 * written; afterwards every symlink is resolved for real. The caller removes
 * `destDir` on failure.
 */
export async function extractArchive(archiveFile: string, destDir: string, limits: ExtractLimits): Promise<ExtractResult> {
  const info = await lstat(destDir);
  if (!info.isDirectory()) throw new AstraError(ErrorCode.INTERNAL, `extraction folder ${destDir} is not a directory`);
  const result = await inspectArchive(archiveFile, limits);
  await unpackArchive(archiveFile, destDir, limits);
  await verifySymlinks(destDir);
  return result;
}
