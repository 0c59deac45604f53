import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import { checkNodeRequirement } from './node-requirement.js';
import { probeImports } from './import-probe.js';
import { buildHandlers, locateAdapters, manifestRuntime, nodeRequirementOf } from './package-handlers.js';
import { readManifest } from './read-manifest.js';

/** What {@link inspectPackageFolder} found in a package folder that passed every install check. */
export interface PackageInspection {
  name: string;
  version: string;
  /** `node`, or the foreign runtime the manifest targets. */
  runtime: string;
  /** True when this worker would run it (a node package): its modules were imported and every handler found. */
  runnable: boolean;
  /** Node types, sorted. */
  nodeTypes: string[];
  /** The manifest as written (what `control.register` carries). */
  manifest: Record<string, unknown>;
}

/**
 * Checks an unpacked package folder the way the worker does at install
 * (README, "Writing node packages"): `manifest.json` against the manifest schema and
 * its cross-field rules, the Node.js range, every adapter entrypoint inside
 * the folder and importable, every node's handler exported. It runs the
 * package's module code (imports) first in an isolated import probe process
 * (time limit `importTimeoutMs`, default 30 s), then here, as the install does. Throws the install's
 * `AstraError` (`E.PKG.INVALID`, `E.PKG.PERMISSION`, `E.PKG.RUNTIME_UNSUPPORTED`).
 *
 * @example
 * ```ts
 * const found = await inspectPackageFolder('./examples/packages/echo');
 * found.nodeTypes; // ['echo.echo', 'echo.fail']
 * ```
 */
export async function inspectPackageFolder(dir: string, options: { importTimeoutMs?: number } = {}): Promise<PackageInspection> {
  const root = resolve(dir);
  const loaded = await readManifest(root);
  const { manifest } = loaded;
  const runtime = manifestRuntime(manifest);
  const runnable = runtime === 'node';
  const range = runnable ? nodeRequirementOf(manifest) : undefined;
  const check = range === undefined ? 'satisfied' : checkNodeRequirement(range);
  if (check === 'unsatisfied') {
    throw new AstraError(
      ErrorCode.PKG_RUNTIME_UNSUPPORTED,
      `${manifest.name}@${manifest.version} requires node ${range}; this Node.js is ${process.version}`,
    );
  }
  if (check === 'invalid') {
    // The install refuses it the same way.
    throw new AstraError(
      ErrorCode.PKG_INVALID,
      `${manifest.name}@${manifest.version}: node.requires "${range}" is not a valid semver range`,
    );
  }
  if (runnable) {
    await probeImports({
      root,
      manifest,
      locations: locateAdapters(root, manifest, runnable),
      timeoutMs: options.importTimeoutMs ?? 30_000,
    });
  }
  const handlers = await buildHandlers({ root, manifest, runtime, runnable, cacheKey: randomUUID() });
  return {
    name: manifest.name,
    version: manifest.version,
    runtime,
    runnable,
    nodeTypes: handlers.map((h) => h.nodeType).sort(),
    manifest: loaded.raw,
  };
}
