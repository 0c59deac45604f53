import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import {
  AstraError,
  ErrorCode,
  createNoopLogger,
  type Logger,
  type Manifest,
  type ManifestEntry,
  type PackageStatus,
  redactUrl,
} from '@astraflow/protocol';
import { AdapterRegistry } from './adapter-registry.js';
import { detectArchiveFormat } from './archive-format.js';
import type { EntrypointLocation } from './entrypoint.js';
import { createThreadExtractor } from './extract-in-thread.js';
import { probeImports } from './import-probe.js';
import { purgeRequireCache } from './load-handler.js';
import { checkNodeRequirement } from './node-requirement.js';
import { buildHandlers, locateAdapters, manifestRuntime, nodeRequirementOf } from './package-handlers.js';
import { readManifest, type LoadedManifest } from './read-manifest.js';
import { SerialQueue } from './serial-queue.js';
import type { HandlerLease } from './types.js';
import { comparePackageRefs, isValidPackageName, isValidPackageVersion } from './versions.js';
import { withTimeout } from './with-timeout.js';

/** Options of {@link createPackageManager}. */
export interface PackageManagerOptions {
  /** Absolute folder holding `<name>/<version>/` package folders. Created when missing. */
  packagesDir: string;
  /** Registry to fill; default a new one for `runtimes`. */
  registry?: AdapterRegistry;
  logger?: Logger;
  /** Runtimes this worker runs. Default `['node']`. */
  runtimes?: readonly string[];
  /** Refuse http/https installs without a sha256. Default true. */
  requireSha256?: boolean;
  /** Whole-download limit (also the header and idle-body timeouts). Default 60 000 ms. */
  downloadTimeoutMs?: number;
  /** Largest archive accepted. Default 256 MiB. */
  maxDownloadBytes?: number;
  /** Largest total size of the unpacked files. Default 1 GiB. */
  maxExtractedBytes?: number;
  /** Most entries an archive may hold. Default 10 000. */
  maxEntries?: number;
  /** Most HTTP redirects followed. Default 5. */
  maxRedirects?: number;
  /**
   * Time limit of importing a package's modules, both in the isolated probe
   * process and in this one. Default 30 000 ms.
   */
  importTimeoutMs?: number;
  /** Wall-time limit of unpacking one archive (done in a worker thread). Default 120 000 ms. */
  extractTimeoutMs?: number;
  /** Environment of the import probe process; default `process.env` without `ASTRA_WORKER_*` and `NODE_OPTIONS`. */
  probeEnv?: NodeJS.ProcessEnv;
}

/** A `biz.pkg.install` command. */
export interface InstallRequest {
  name: string;
  version: string;
  /** `https:`, `http:` or `file:` URL of a `.tar.gz`/`.tgz`/`.tar`. Needed unless the version is installed already. */
  url?: string | undefined;
  /** Hex sha256 of the archive; required for http/https unless `requireSha256` is false. */
  sha256?: string | undefined;
}

/** Outcome of a successful install. */
export interface InstallResult {
  name: string;
  version: string;
  manifest: Manifest;
  /** True when this name+version was installed already (nothing was downloaded). */
  alreadyInstalled: boolean;
}

/** One package version. */
export interface PackageRef {
  name: string;
  version: string;
}

/** A package folder that could not be loaded at start-up. */
export interface LoadFailure extends PackageRef {
  /** Absolute path of the version folder. */
  path: string;
  error: AstraError;
}

/** Outcome of {@link PackageManager.loadInstalled}. */
export interface LoadInstalledResult {
  loaded: PackageRef[];
  failed: LoadFailure[];
}

/** What `control.register` advertises about packages. */
export interface PackageInventory {
  packages: PackageStatus[];
  manifests: ManifestEntry[];
}

/**
 * Installs, loads and removes node packages under one folder and keeps the
 * adapter registry in step. Operations on one package name run one at a
 * time; different names proceed in parallel.
 */
export interface PackageManager {
  /** The registry this manager fills. */
  readonly registry: AdapterRegistry;
  /** The absolute packages folder. */
  readonly packagesDir: string;
  /**
   * Downloads, verifies, extracts, validates and activates a package version.
   * Idempotent per name+version (an installed version is kept as is, even
   * when a different sha256 is given). On failure nothing is left behind and
   * other installed versions keep serving.
   */
  install(request: InstallRequest): Promise<InstallResult>;
  /**
   * Removes one version, or every version when `version` is omitted. New
   * `acquire` calls fail at once with `E.PKG.UNINSTALLING`; resolves once
   * the leases held on the version(s) are released and files and handlers
   * are gone. Resolves to what was removed (empty when nothing was installed).
   */
  uninstall(name: string, version?: string): Promise<PackageRef[]>;
  /** Resolves a node and holds its version until `release()`. */
  acquire(packageName: string, packageVersion: string, nodeType: string): HandlerLease;
  /**
   * Loads every `<packagesDir>/<name>/<version>/manifest.json` (start-up).
   * Broken packages are reported and skipped; leftovers of interrupted
   * installs are removed.
   */
  loadInstalled(): Promise<LoadInstalledResult>;
  /** Installed (and broken-at-start-up) packages and the installed manifests, sorted by name then version. */
  inventory(): PackageInventory;
}

interface InstalledRecord {
  name: string;
  version: string;
  root: string;
  manifest: Manifest;
  raw: Record<string, unknown>;
  sha256: string | undefined;
  leases: number;
  uninstalling: boolean;
  drainWaiters: Array<() => void>;
}

const MiB = 1024 * 1024;
const STAGING_PREFIX = '.tmp-';
/** Installed versions loaded (each through its own import probe process) at once at start-up. */
const STARTUP_LOAD_CONCURRENCY = 4;
/** Folder (under packagesDir) of packages moved aside because their code failed to load at start-up. */
const QUARANTINE_DIR = '.quarantine';
const SCHEMES = new Set(['http:', 'https:', 'file:']);
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

/** File name of the marker; reserved, so no package can be called that. */
const MARKER_NAME = 'package.json';

const refKey = (name: string, version: string): string => `${name}@${version}`;

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `package manager option ${name} must be a non-negative number (got ${String(value)})`);
  }
  return v;
}

function errnoCode(err: unknown): string | undefined {
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

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

/** `manifest.json` at the root of the archive, or inside its one top-level folder (`npm pack`'s `package/`). */
async function findPackageRoot(extractDir: string): Promise<string> {
  if (await isFile(join(extractDir, 'manifest.json'))) return extractDir;
  const entries = await readdir(extractDir, { withFileTypes: true });
  if (entries.length === 0) throw new AstraError(ErrorCode.PKG_INVALID, 'archive is empty');
  const only = entries[0];
  if (entries.length === 1 && only !== undefined && only.isDirectory()) {
    const inner = join(extractDir, only.name);
    if (await isFile(join(inner, 'manifest.json'))) return inner;
  }
  throw new AstraError(
    ErrorCode.PKG_INVALID,
    'manifest.json not found at the archive root or inside a single top-level folder',
  );
}

class DefaultPackageManager implements PackageManager {
  readonly registry: AdapterRegistry;
  readonly packagesDir: string;
  private readonly logger: Logger;
  private readonly runtimes: readonly string[];
  private readonly requireSha256: boolean;
  private readonly downloadTimeoutMs: number;
  private readonly maxDownloadBytes: number;
  private readonly maxExtractedBytes: number;
  private readonly maxEntries: number;
  private readonly maxRedirects: number;
  private readonly importTimeoutMs: number;
  private readonly extractTimeoutMs: number;
  private readonly probeEnv: NodeJS.ProcessEnv | undefined;
  private readonly extractor = createThreadExtractor();
  private readonly queue = new SerialQueue();
  private readonly installed = new Map<string, InstalledRecord>();
  private readonly failures = new Map<string, LoadFailure>();
  /** Staging folders in use by this manager, which start-up cleaning must not touch. */
  private readonly staging = new Set<string>();
  private rootReady: Promise<void> | undefined;

  constructor(options: PackageManagerOptions) {
    if (typeof options.packagesDir !== 'string' || !isAbsolute(options.packagesDir)) {
      throw new AstraError(ErrorCode.CONFIG_INVALID, `packagesDir must be an absolute path (got ${String(options.packagesDir)})`);
    }
    this.packagesDir = resolve(options.packagesDir);
    this.runtimes = [...(options.runtimes ?? ['node'])];
    this.registry = options.registry ?? new AdapterRegistry({ runtimes: this.runtimes });
    this.logger = (options.logger ?? createNoopLogger()).child({ component: 'package-manager' });
    this.requireSha256 = options.requireSha256 ?? true;
    this.downloadTimeoutMs = positive('downloadTimeoutMs', options.downloadTimeoutMs, 60_000);
    this.maxDownloadBytes = positive('maxDownloadBytes', options.maxDownloadBytes, 256 * MiB);
    this.maxExtractedBytes = positive('maxExtractedBytes', options.maxExtractedBytes, 1024 * MiB);
    this.maxEntries = positive('maxEntries', options.maxEntries, 10_000);
    this.maxRedirects = Math.floor(positive('maxRedirects', options.maxRedirects, 5));
    this.importTimeoutMs = positive('importTimeoutMs', options.importTimeoutMs, 30_000);
    this.extractTimeoutMs = positive('extractTimeoutMs', options.extractTimeoutMs, 120_000);
    this.probeEnv = options.probeEnv;
  }

  // ---------------------------------------------------------------- install

  install(request: InstallRequest): Promise<InstallResult> {
    const { name, version } = request;
    if (typeof name !== 'string' || !isValidPackageName(name) || name === MARKER_NAME) {
      return Promise.reject(new AstraError(ErrorCode.PKG_INVALID, `invalid package name ${JSON.stringify(name)}`));
    }
    if (typeof version !== 'string' || !isValidPackageVersion(version)) {
      return Promise.reject(new AstraError(ErrorCode.PKG_INVALID, `invalid package version ${JSON.stringify(version)} (expected X.Y.Z)`));
    }
    return this.queue.run(name, () => this.installNow(request));
  }

  private async installNow(request: InstallRequest): Promise<InstallResult> {
    const { name, version } = request;
    const existing = this.installed.get(refKey(name, version));
    if (existing !== undefined) {
      const wanted = request.sha256?.toLowerCase();
      if (wanted !== undefined && existing.sha256 !== undefined && wanted !== existing.sha256) {
        this.logger.warn(
          { package: name, version, installed_sha256: existing.sha256, requested_sha256: wanted },
          'package version already installed from a different archive; keeping the installed one',
        );
      }
      return { name, version, manifest: existing.manifest, alreadyInstalled: true };
    }
    const url = this.parseSource(request);
    const expectedSha = this.expectedSha256(request, url);
    await this.ensureRoot();
    const nameDir = join(this.packagesDir, name);
    const nameDirExisted = await isDirectory(nameDir);
    const staging = join(this.packagesDir, `${STAGING_PREFIX}${randomUUID()}`);
    this.staging.add(staging);
    const log = this.logger.child({ package: name, version });
    log.debug({ url: redactUrl(url) }, 'installing package');
    try {
      await mkdir(staging);
      // The HTTP client (undici, ~18 MiB) is loaded on the first install: a worker that only runs what it
      // has never pays for it. The download uses an agent of its own, so whatever claimed the global
      // dispatcher first (a handler's fetch()) does not matter.
      const { downloadArchive } = await import('./download.js');
      const archive = join(staging, 'archive');
      const download = await downloadArchive({
        url,
        dest: archive,
        timeoutMs: this.downloadTimeoutMs,
        maxBytes: this.maxDownloadBytes,
        maxRedirects: this.maxRedirects,
      });
      if (expectedSha !== undefined && download.sha256 !== expectedSha) {
        throw new AstraError(ErrorCode.PKG_CHECKSUM, `sha256 mismatch: expected ${expectedSha}, got ${download.sha256}`, {
          details: { expected: expectedSha, actual: download.sha256 },
        });
      }
      await detectArchiveFormat(archive);
      const content = join(staging, 'content');
      await mkdir(content);
      const extracted = await this.extractor.extract(archive, content, {
        maxEntries: this.maxEntries,
        maxExtractedBytes: this.maxExtractedBytes,
        timeoutMs: this.extractTimeoutMs,
      });
      await rm(archive, { force: true });
      const stagedRoot = await findPackageRoot(content);
      const loaded = await readManifest(stagedRoot);
      this.checkIdentity(loaded.manifest, name, version, 'the install command');
      const runnable = this.assertRuntime(loaded.manifest);
      // Cheap checks first; then the package code runs, but only in a child process that it cannot take down with it.
      const locations = locateAdapters(stagedRoot, loaded.manifest, runnable);
      if (runnable) await this.probe(stagedRoot, loaded.manifest, locations);

      const finalDir = join(nameDir, version);
      await mkdir(nameDir, { recursive: true });
      const aside = join(staging, 'previous');
      // A folder no one serves (e.g. it failed to load at start-up) is replaced, but restored if this install fails.
      const hadPrevious = await this.moveIfExists(finalDir, aside);
      await rename(stagedRoot, finalDir);
      try {
        await this.activate(name, version, finalDir, loaded, download.sha256);
      } catch (err) {
        await rename(finalDir, join(staging, 'rejected'));
        if (hadPrevious) await rename(aside, finalDir);
        throw err;
      }
      log.info({ bytes: download.bytes, entries: extracted.entries, sha256: download.sha256 }, 'package installed');
      return { name, version, manifest: loaded.manifest, alreadyInstalled: false };
    } catch (err) {
      const error = AstraError.wrap(err, ErrorCode.INTERNAL);
      log.warn({ code: error.code, err: error.message }, 'package install failed');
      if (!nameDirExisted) await rmdir(nameDir).catch(() => undefined);
      throw error;
    } finally {
      await rm(staging, { recursive: true, force: true }).catch((err: unknown) =>
        log.warn({ err, path: staging }, 'could not remove staging folder'),
      );
      this.staging.delete(staging);
    }
  }

  private parseSource(request: InstallRequest): URL {
    if (request.url === undefined || request.url === '') {
      throw new AstraError(
        ErrorCode.PKG_INVALID,
        `${request.name}@${request.version} is not installed and the install command has no url`,
      );
    }
    let url: URL;
    try {
      url = new URL(request.url);
    } catch (cause) {
      throw new AstraError(ErrorCode.PKG_INVALID, 'install url is not a valid URL', { cause });
    }
    if (!SCHEMES.has(url.protocol)) {
      throw new AstraError(
        ErrorCode.PKG_INVALID,
        `unsupported URL scheme "${url.protocol.replace(/:$/, '')}" (use https, http or file)`,
      );
    }
    return url;
  }

  private expectedSha256(request: InstallRequest, url: URL): string | undefined {
    const given = request.sha256;
    if (given === undefined || given === '') {
      if (this.requireSha256 && url.protocol !== 'file:') {
        throw new AstraError(ErrorCode.PKG_INVALID, `sha256 is required to install from ${url.protocol.replace(/:$/, '')} URLs`);
      }
      return undefined;
    }
    if (!/^[A-Fa-f0-9]{64}$/.test(given)) {
      throw new AstraError(ErrorCode.PKG_INVALID, 'sha256 must be 64 hexadecimal characters');
    }
    return given.toLowerCase();
  }

  private checkIdentity(manifest: Manifest, name: string, version: string, against: string): void {
    if (manifest.name !== name || manifest.version !== version) {
      throw new AstraError(
        ErrorCode.PKG_INVALID,
        `manifest declares ${manifest.name}@${manifest.version}, but ${against} says ${name}@${version}`,
        { details: { manifest_name: manifest.name, manifest_version: manifest.version } },
      );
    }
  }

  /** Refuses `node` packages whose `requires` range excludes this Node.js or does not parse; returns whether the package is runnable here. */
  private assertRuntime(manifest: Manifest): boolean {
    const runtime = manifestRuntime(manifest);
    if (runtime !== 'node') return false;
    const range = nodeRequirementOf(manifest);
    if (range !== undefined) {
      const check = checkNodeRequirement(range);
      if (check === 'unsatisfied') {
        throw new AstraError(
          ErrorCode.PKG_RUNTIME_UNSUPPORTED,
          `${manifest.name}@${manifest.version} requires node ${range}; this worker runs ${process.version}`,
        );
      }
      if (check === 'invalid') {
        throw new AstraError(
          ErrorCode.PKG_INVALID,
          `${manifest.name}@${manifest.version}: node.requires "${range}" is not a valid semver range`,
        );
      }
    }
    return this.runtimes.includes('node');
  }

  private async moveIfExists(from: string, to: string): Promise<boolean> {
    try {
      await rename(from, to);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  private probe(root: string, manifest: Manifest, locations: Map<string, EntrypointLocation>): Promise<void> {
    return probeImports({ root, manifest, locations, timeoutMs: this.importTimeoutMs, env: this.probeEnv });
  }

  /** Imports the package in its final folder and makes it visible in the registry. */
  private async activate(
    name: string,
    version: string,
    root: string,
    loaded: LoadedManifest,
    sha256: string | undefined,
  ): Promise<void> {
    const runnable = this.assertRuntime(loaded.manifest);
    // The probe passed, but code can behave differently on a second import: an unanswered install would block the name.
    const handlers = await withTimeout(
      buildHandlers({ root, manifest: loaded.manifest, runtime: manifestRuntime(loaded.manifest), runnable, cacheKey: randomUUID() }),
      this.importTimeoutMs,
      () =>
        new AstraError(ErrorCode.PKG_INVALID, `importing ${name}@${version} did not finish within ${this.importTimeoutMs} ms`, {
          details: { reason: 'timeout', timeout_ms: this.importTimeoutMs },
        }),
    );
    this.registry.unregisterVersion(name, version);
    for (const handler of handlers) this.registry.register(handler);
    const key = refKey(name, version);
    this.installed.set(key, {
      name,
      version,
      root,
      manifest: loaded.manifest,
      raw: loaded.raw,
      sha256,
      leases: 0,
      uninstalling: false,
      drainWaiters: [],
    });
    this.failures.delete(key);
  }

  private ensureRoot(): Promise<void> {
    this.rootReady ??= (async () => {
      await mkdir(this.packagesDir, { recursive: true });
      try {
        await writeFile(join(this.packagesDir, MARKER_NAME), MARKER_PACKAGE_JSON, { flag: 'wx' });
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
    })().catch((err: unknown) => {
      this.rootReady = undefined;
      throw new AstraError(ErrorCode.PKG_PERMISSION, `cannot prepare packages folder ${this.packagesDir}: ${String(err)}`, {
        cause: err,
      });
    });
    return this.rootReady;
  }

  // -------------------------------------------------------------- uninstall

  uninstall(name: string, version?: string): Promise<PackageRef[]> {
    if (typeof name !== 'string' || !isValidPackageName(name)) {
      return Promise.reject(new AstraError(ErrorCode.PKG_INVALID, `invalid package name ${JSON.stringify(name)}`));
    }
    if (version !== undefined && (typeof version !== 'string' || !isValidPackageVersion(version))) {
      return Promise.reject(new AstraError(ErrorCode.PKG_INVALID, `invalid package version ${JSON.stringify(version)}`));
    }
    // Refuse new work at once, even while earlier operations on this name are still queued.
    this.markUninstalling(name, version);
    return this.queue.run(name, async () => {
      this.markUninstalling(name, version);
      const removed: PackageRef[] = [];
      try {
        for (const ref of await this.uninstallTargets(name, version)) {
          await this.removeVersion(ref);
          removed.push(ref);
        }
      } catch (err) {
        // What could not be removed keeps serving.
        for (const record of this.installed.values()) {
          if (record.name === name && (version === undefined || record.version === version)) record.uninstalling = false;
        }
        const error = AstraError.wrap(err, ErrorCode.INTERNAL);
        this.logger.warn({ package: name, version, code: error.code, err: error.message }, 'package uninstall failed');
        throw error;
      }
      await rmdir(join(this.packagesDir, name)).catch(() => undefined);
      if (removed.length > 0) this.logger.info({ package: name, versions: removed.map((r) => r.version) }, 'package uninstalled');
      else this.logger.info({ package: name, version }, 'uninstall: nothing installed');
      return removed;
    });
  }

  private markUninstalling(name: string, version: string | undefined): void {
    for (const record of this.installed.values()) {
      if (record.name === name && (version === undefined || record.version === version)) record.uninstalling = true;
    }
  }

  private async uninstallTargets(name: string, version: string | undefined): Promise<PackageRef[]> {
    const versions = new Set<string>();
    for (const record of this.installed.values()) {
      if (record.name === name && (version === undefined || record.version === version)) versions.add(record.version);
    }
    for (const failure of this.failures.values()) {
      if (failure.name === name && (version === undefined || failure.version === version)) versions.add(failure.version);
    }
    for (const dir of await subdirectories(join(this.packagesDir, name))) {
      if (version === undefined || dir === version) versions.add(dir);
    }
    return [...versions].map((v) => ({ name, version: v })).sort(comparePackageRefs);
  }

  private async removeVersion(ref: PackageRef): Promise<void> {
    const key = refKey(ref.name, ref.version);
    const record = this.installed.get(key);
    if (record !== undefined && record.leases > 0) {
      this.logger.info({ package: ref.name, version: ref.version, leases: record.leases }, 'uninstall waits for running tasks');
      await new Promise<void>((resolveDrained) => record.drainWaiters.push(resolveDrained));
    }
    const dir = join(this.packagesDir, ref.name, ref.version);
    // Renamed out of sight first, so a crash mid-delete leaves only a staging folder that start-up removes.
    const trash = join(this.packagesDir, `${STAGING_PREFIX}${randomUUID()}`);
    this.staging.add(trash);
    try {
      try {
        await this.moveIfExists(dir, trash);
      } catch (err) {
        throw new AstraError(ErrorCode.PKG_PERMISSION, `cannot remove ${dir}: ${String(err)}`, { cause: err });
      }
      this.registry.unregisterVersion(ref.name, ref.version);
      this.installed.delete(key);
      this.failures.delete(key);
      purgeRequireCache(dir);
      await rm(trash, { recursive: true, force: true }).catch((err: unknown) =>
        this.logger.warn({ err, path: trash }, 'could not delete uninstalled files; start-up will retry'),
      );
    } finally {
      this.staging.delete(trash);
    }
  }

  // ---------------------------------------------------------------- acquire

  acquire(packageName: string, packageVersion: string, nodeType: string): HandlerLease {
    const record = this.installed.get(refKey(packageName, packageVersion));
    if (record?.uninstalling === true) {
      throw new AstraError(ErrorCode.PKG_UNINSTALLING, `package ${packageName}@${packageVersion} is being uninstalled`, {
        details: { package: packageName, version: packageVersion, node_type: nodeType },
      });
    }
    const handler = this.registry.resolve(packageName, packageVersion, nodeType);
    if (record === undefined) {
      // Registered directly in the registry, not installed by this manager: nothing to hold.
      return { handler, release: () => undefined };
    }
    record.leases += 1;
    let released = false;
    return {
      handler,
      release: () => {
        if (released) return;
        released = true;
        record.leases -= 1;
        if (record.leases === 0) {
          for (const wake of record.drainWaiters.splice(0)) wake();
        }
      },
    };
  }

  // ---------------------------------------------------------------- startup

  async loadInstalled(): Promise<LoadInstalledResult> {
    await this.ensureRoot();
    const entries = await readdir(this.packagesDir, { withFileTypes: true });
    for (const entry of entries) {
      const path = join(this.packagesDir, entry.name);
      if (entry.name.startsWith(STAGING_PREFIX) && !this.staging.has(path)) {
        this.logger.info({ path }, 'removing leftover of an interrupted install');
        await rm(path, { recursive: true, force: true }).catch((err: unknown) =>
          this.logger.warn({ err, path }, 'could not remove leftover staging folder'),
        );
      }
    }
    const pending: PackageRef[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      for (const version of await subdirectories(join(this.packagesDir, entry.name))) pending.push({ name: entry.name, version });
    }
    // Each load starts an import probe process: a few at a time, not one per installed version at once.
    const outcomes: Array<LoadFailure | PackageRef> = [];
    const loadNext = async (): Promise<void> => {
      for (let ref = pending.shift(); ref !== undefined; ref = pending.shift()) {
        const { name, version } = ref;
        outcomes.push(await this.queue.run(name, () => this.loadOne(name, version)));
      }
    };
    await Promise.all(Array.from({ length: STARTUP_LOAD_CONCURRENCY }, loadNext));
    const loaded: PackageRef[] = [];
    const failed: LoadFailure[] = [];
    for (const outcome of outcomes) {
      if ('error' in outcome) failed.push(outcome);
      else loaded.push(outcome);
    }
    loaded.sort(comparePackageRefs);
    failed.sort(comparePackageRefs);
    this.logger.info({ loaded: loaded.length, failed: failed.length }, 'installed packages loaded');
    return { loaded, failed };
  }

  private async loadOne(name: string, version: string): Promise<LoadFailure | PackageRef> {
    const key = refKey(name, version);
    if (this.installed.has(key)) return { name, version };
    const path = join(this.packagesDir, name, version);
    try {
      if (!isValidPackageName(name) || !isValidPackageVersion(version)) {
        throw new AstraError(ErrorCode.PKG_INVALID, `folder ${name}/${version} is not a valid <name>/<version> pair`);
      }
      const loaded = await readManifest(path);
      this.checkIdentity(loaded.manifest, name, version, 'its folder');
      const runnable = this.assertRuntime(loaded.manifest);
      try {
        if (runnable) await this.probe(path, loaded.manifest, locateAdapters(path, loaded.manifest, runnable));
        await this.activate(name, version, path, loaded, undefined);
      } catch (err) {
        throw await this.quarantine(name, version, path, AstraError.wrap(err, ErrorCode.INTERNAL));
      }
      return { name, version };
    } catch (err) {
      const error = AstraError.wrap(err, ErrorCode.INTERNAL);
      const failure: LoadFailure = { name, version, path: (error.details?.['quarantined_to'] as string | undefined) ?? path, error };
      this.failures.set(key, failure);
      this.logger.warn({ package: name, version, path: failure.path, code: error.code, err: error.message }, 'skipping broken package');
      return failure;
    }
  }

  /**
   * Moves a package whose code failed to load out of `packagesDir` (into
   * `.quarantine/`, which is never loaded), so the next start does not run it
   * again: a package can fail a start, never every start.
   */
  private async quarantine(name: string, version: string, path: string, error: AstraError): Promise<AstraError> {
    const dest = join(this.packagesDir, QUARANTINE_DIR, `${name}@${version}-${Date.now()}`);
    try {
      await mkdir(join(this.packagesDir, QUARANTINE_DIR), { recursive: true });
      await rename(path, dest);
      await rmdir(join(this.packagesDir, name)).catch(() => undefined);
    } catch (err) {
      this.logger.error({ package: name, version, path, err: String(err) }, 'could not quarantine a package that fails to load');
      return error;
    }
    this.logger.warn({ package: name, version, path, quarantined_to: dest }, 'package quarantined: its code fails to load');
    return new AstraError(error.code, `${error.message} (quarantined to ${dest})`, {
      cause: error,
      details: { ...error.details, quarantined_to: dest },
    });
  }

  // -------------------------------------------------------------- inventory

  inventory(): PackageInventory {
    const packages: PackageStatus[] = [];
    const manifests: ManifestEntry[] = [];
    for (const record of [...this.installed.values()].sort(comparePackageRefs)) {
      packages.push({ name: record.name, version: record.version, status: 'installed' });
      manifests.push({ name: record.name, version: record.version, manifest: record.raw });
    }
    for (const failure of this.failures.values()) {
      // Only folders that name a real package version are worth telling the scheduler about.
      if (isValidPackageName(failure.name) && isValidPackageVersion(failure.version)) {
        packages.push({ name: failure.name, version: failure.version, status: 'failed' });
      }
    }
    packages.sort(comparePackageRefs);
    return { packages, manifests };
  }
}

/**
 * Creates a {@link PackageManager} for `options.packagesDir`. Call
 * `loadInstalled()` once at start-up to serve what is already on disk.
 */
export function createPackageManager(options: PackageManagerOptions): PackageManager {
  return new DefaultPackageManager(options);
}
