import { AstraError, ErrorCode, type Manifest, type ManifestAdapter } from '@astraflow/protocol';
import { foreignEntrypointLocation, resolveEntrypoint, type EntrypointLocation } from './entrypoint.js';
import { HANDLER_LOADER_URL, importAdapterModule, loadHandler } from './load-handler.js';
import { execModeOf } from './read-manifest.js';
import type { RegisteredHandler } from './types.js';

/**
 * The runtime a manifest targets (README, "Writing node packages"): `node` when it has a `node` block (the
 * older form), or when every adapter says `metadata.runtime: "node"` (the catalog-compatible form,
 * whose `python` block only satisfies the scheduler's schema); else the runtime its adapters name,
 * else `python`.
 */
export function manifestRuntime(manifest: Manifest): string {
  if (manifest.node !== undefined) return 'node';
  const declared = manifest.adapters.map((adapter) => adapter.metadata?.['runtime']);
  if (declared.length > 0 && declared.every((runtime) => runtime === 'node')) return 'node';
  const named = declared.find((runtime): runtime is string => typeof runtime === 'string' && runtime !== 'node');
  return named ?? 'python';
}

/**
 * The Node.js range a node package asks for: `node.requires`, else the first adapter's
 * `metadata.node_requires` (catalog-compatible form).
 */
export function nodeRequirementOf(manifest: Manifest): string | undefined {
  if (manifest.node?.requires !== undefined) return manifest.node.requires;
  for (const adapter of manifest.adapters) {
    const range = adapter.metadata?.['node_requires'];
    if (typeof range === 'string' && range.trim() !== '') return range;
  }
  return undefined;
}

function withContext(err: unknown, context: string): AstraError {
  const inner = AstraError.wrap(err, ErrorCode.PKG_INVALID);
  return new AstraError(inner.code, `${context}: ${inner.message}`, { cause: inner, details: inner.details });
}

/**
 * Checks, without running any package code, that every adapter entrypoint
 * names a module file inside `root`. Returns each adapter's location.
 */
export function locateAdapters(root: string, manifest: Manifest, runnable: boolean): Map<string, EntrypointLocation> {
  const locations = new Map<string, EntrypointLocation>();
  for (const adapter of manifest.adapters) {
    try {
      locations.set(
        adapter.name,
        runnable ? resolveEntrypoint(root, adapter.entrypoint) : foreignEntrypointLocation(root, adapter.entrypoint, '.py'),
      );
    } catch (err) {
      throw withContext(err, `adapter "${adapter.name}" entrypoint "${adapter.entrypoint}"`);
    }
  }
  return locations;
}

/** What {@link buildHandlers} needs to know about the installed package. */
export interface BuildHandlersInput {
  root: string;
  manifest: Manifest;
  runtime: string;
  /** False for foreign runtimes (and for `node` when this worker does not run it): nothing is imported. */
  runnable: boolean;
  cacheKey: string;
}

/**
 * Imports every adapter module of a runnable package and resolves every
 * node's handler, producing the registry entries. Throws `E.PKG.INVALID`
 * naming the adapter/node whose entrypoint or handler is missing.
 */
export async function buildHandlers(input: BuildHandlersInput): Promise<RegisteredHandler[]> {
  const { root, manifest, runtime, runnable, cacheKey } = input;
  const locations = locateAdapters(root, manifest, runnable);
  const adapters = new Map<string, ManifestAdapter>(manifest.adapters.map((a) => [a.name, a]));
  const loadOptions = { cacheKey, packageRoot: root };
  if (runnable) {
    // Every adapter, including ones no node uses yet: a broken module must fail the install.
    for (const adapter of manifest.adapters) {
      const location = locations.get(adapter.name)!;
      try {
        await importAdapterModule(location.modulePath, loadOptions);
      } catch (err) {
        throw withContext(err, `adapter "${adapter.name}" entrypoint "${adapter.entrypoint}"`);
      }
    }
  }
  const handlers: RegisteredHandler[] = [];
  for (const node of manifest.nodes) {
    const adapter = adapters.get(node.adapter)!;
    const location = locations.get(node.adapter)!;
    let fn: RegisteredHandler['fn'];
    let isAsync = false;
    if (runnable) {
      try {
        ({ fn, isAsync } = await loadHandler(location.modulePath, location.exportName, node.handler, loadOptions));
      } catch (err) {
        throw withContext(
          err,
          `node "${node.type}" handler "${node.handler}" (adapter "${adapter.name}", entrypoint "${adapter.entrypoint}")`,
        );
      }
    }
    handlers.push({
      packageName: manifest.name,
      packageVersion: manifest.version,
      nodeType: node.type,
      runtime,
      node,
      adapter,
      packageRoot: root,
      modulePath: location.modulePath,
      exportName: location.exportName,
      handlerName: node.handler,
      fn,
      isAsync,
      execMode: execModeOf(node.config, adapter.metadata),
      metadata: { ...(adapter.metadata ?? {}), ...(node.config ?? {}) },
      cacheKey,
      loaderUrl: HANDLER_LOADER_URL,
    });
  }
  return handlers;
}
