/**
 * Adapter registry and package manager for AstraFlow node packages:
 * download, verify, safely extract, validate, import and register package
 * versions; resolve (package, version, node type) to a handler.
 *
 * @example
 * ```ts
 * import { createPackageManager } from '@astraflow/registry';
 *
 * const packages = createPackageManager({ packagesDir: '/var/lib/astraflow/node-packages' });
 * await packages.loadInstalled();
 * await packages.install({ name: 'echo', version: '1.0.0', url: 'https://example.com/echo-1.0.0.tgz', sha256 });
 * const lease = packages.acquire('echo', '1.0.0', 'echo.echo');
 * try {
 *   console.log(await lease.handler.fn?.({ params: { message: 'hi' } } as never)); // { echo: 'hi' }
 * } finally {
 *   lease.release();
 * }
 * ```
 *
 * @packageDocumentation
 */
export { AdapterRegistry, createAdapterRegistry, type AdapterRegistryOptions } from './adapter-registry.js';
export { detectArchiveFormat, detectArchiveFormatFromBytes, type ArchiveFormat } from './archive-format.js';
export { resolveEntrypoint, type EntrypointLocation } from './entrypoint.js';
export { HANDLER_LOADER_URL, loadHandler, type LoadedHandler, type LoadHandlerOptions } from './load-handler.js';
export { inspectPackageFolder, type PackageInspection } from './inspect-package.js';
export { checkNodeRequirement, type RequirementCheck } from './node-requirement.js';
export { createPackageManager } from './package-manager.js';
export type {
  InstallRequest,
  InstallResult,
  LoadFailure,
  LoadInstalledResult,
  PackageInventory,
  PackageManager,
  PackageManagerOptions,
  PackageRef,
} from './package-manager-types.js';
export type { HandlerFunction, HandlerLease, RegisteredHandler } from './types.js';
export { compareVersions } from './versions.js';
