import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AstraError, ErrorCode } from '@astraflow/protocol';

/** Where an adapter entrypoint points: the module file and the optional named export. */
export interface EntrypointLocation {
  /** Absolute path of the module file, inside the package root. */
  modulePath: string;
  /** The part after `:`, if any (`adapters/echo.mjs:EchoAdapter` → `EchoAdapter`). */
  exportName: string | undefined;
}

interface ParsedEntrypoint {
  /** Candidate module paths relative to the package root, `/`-separated, in the order tried. */
  candidates: string[];
  exportName: string | undefined;
}

const JS_EXT_RE = /\.(?:c|m)?js$/;

/** True when `child` is `parent` or lies below it (both absolute, normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function parse(entrypoint: string, dottedExtensions: readonly string[]): ParsedEntrypoint {
  if (entrypoint.includes('\0') || entrypoint.includes('\\')) {
    throw new AstraError(ErrorCode.PKG_INVALID, `entrypoint "${entrypoint}" contains a backslash or NUL character`);
  }
  const colon = entrypoint.indexOf(':');
  const spec = colon === -1 ? entrypoint : entrypoint.slice(0, colon);
  const exportName = colon === -1 ? undefined : entrypoint.slice(colon + 1);
  if (exportName !== undefined && !/^[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*$/.test(exportName)) {
    throw new AstraError(ErrorCode.PKG_INVALID, `entrypoint "${entrypoint}": "${exportName}" is not a valid export name`);
  }
  if (spec === '') throw new AstraError(ErrorCode.PKG_INVALID, `entrypoint "${entrypoint}" names no module`);
  if (spec.startsWith('/') || /^[A-Za-z]:/.test(spec)) {
    throw new AstraError(
      ErrorCode.PKG_PERMISSION,
      `entrypoint "${entrypoint}" is an absolute path; it must be relative to the package root`,
    );
  }
  const segments = spec.split('/');
  if (segments.includes('..')) {
    throw new AstraError(ErrorCode.PKG_PERMISSION, `entrypoint "${entrypoint}" leaves the package folder ("..")`);
  }
  if (segments.some((s) => s === '')) {
    throw new AstraError(ErrorCode.PKG_INVALID, `entrypoint "${entrypoint}" has an empty path segment`);
  }
  if (spec.includes('/') || JS_EXT_RE.test(spec)) {
    // A file path: as written, or with an extension added when it has none.
    const candidates = JS_EXT_RE.test(spec) ? [spec] : ['.js', '.mjs', '.cjs'].map((ext) => spec + ext);
    return { candidates, exportName };
  }
  // The dotted (Python-style) module form: adapters.echo → adapters/echo.<ext>.
  const base = spec.split('.').join('/');
  return { candidates: dottedExtensions.map((ext) => base + ext), exportName };
}

/**
 * Turns an adapter `entrypoint` into the module file it names, inside
 * `packageRoot`. Accepted forms: `adapters/echo.js`, `adapters/echo.mjs:Export`
 * and the dotted `adapters.echo` (tries `adapters/echo.js`, `.mjs`, `.cjs`).
 *
 * Throws `E.PKG.PERMISSION` for absolute paths, `..` segments and modules that
 * resolve (through symlinks) outside `packageRoot`; `E.PKG.INVALID` when no
 * module file exists.
 */
export function resolveEntrypoint(packageRoot: string, entrypoint: string): EntrypointLocation {
  const root = resolve(packageRoot);
  const { candidates, exportName } = parse(entrypoint, ['.js', '.mjs', '.cjs']);
  for (const candidate of candidates) {
    const modulePath = join(root, ...candidate.split('/'));
    if (!isInside(root, modulePath)) {
      throw new AstraError(ErrorCode.PKG_PERMISSION, `entrypoint "${entrypoint}" leaves the package folder`);
    }
    let isFile = false;
    try {
      isFile = statSync(modulePath).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) continue;
    let realRoot: string;
    let realModule: string;
    try {
      realRoot = realpathSync(root);
      realModule = realpathSync(modulePath);
    } catch (cause) {
      throw new AstraError(ErrorCode.PKG_INVALID, `entrypoint "${entrypoint}": cannot resolve ${candidate}`, { cause });
    }
    if (!isInside(realRoot, realModule)) {
      throw new AstraError(
        ErrorCode.PKG_PERMISSION,
        `entrypoint "${entrypoint}" resolves through a symlink to ${realModule}, outside the package folder`,
      );
    }
    return { modulePath, exportName };
  }
  const tried = candidates.join(', ');
  throw new AstraError(ErrorCode.PKG_INVALID, `entrypoint "${entrypoint}" not found in the package (tried ${tried})`);
}

/**
 * Where an entrypoint of a foreign-runtime package (e.g. Python) would live,
 * without touching the file system: such modules are listed, never loaded.
 */
export function foreignEntrypointLocation(packageRoot: string, entrypoint: string, extension: string): EntrypointLocation {
  const root = resolve(packageRoot);
  const colon = entrypoint.indexOf(':');
  const spec = colon === -1 ? entrypoint : entrypoint.slice(0, colon);
  const exportName = colon === -1 ? undefined : entrypoint.slice(colon + 1) || undefined;
  const rel = spec.includes('/') || spec.endsWith(extension) ? spec : spec.split('.').join('/') + extension;
  const modulePath = join(root, ...rel.split('/'));
  if (!isInside(root, modulePath) || spec.startsWith('/')) {
    throw new AstraError(ErrorCode.PKG_PERMISSION, `entrypoint "${entrypoint}" leaves the package folder`);
  }
  return { modulePath, exportName };
}

/** `sep`-independent display of a path relative to a package root (for messages). */
export function displayPath(packageRoot: string, file: string): string {
  return relative(packageRoot, file).split(sep).join('/');
}
