/**
 * Sample AstraFlow node packages, packed as installable `.tgz` archives
 * (built by `pnpm --filter @astraflow/examples build`).
 *
 * @example
 * ```ts
 * import { sampleArchive } from '@astraflow/examples';
 * import { pathToFileURL } from 'node:url';
 *
 * const echo = sampleArchive('echo', '1.0.0');
 * await packageManager.install({
 *   name: echo.name,
 *   version: echo.version,
 *   url: pathToFileURL(echo.path).href,
 *   sha256: echo.sha256,
 * });
 * ```
 *
 * @packageDocumentation
 */
export { sampleArchive, sampleArchives, sampleArchivesDir, type SampleArchive } from './sample-archives.js';
