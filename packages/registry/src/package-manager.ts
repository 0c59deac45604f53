import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { AstraError, ErrorCode, createNoopLogger, type Logger, type Manifest, redactUrl } from '@astraflow/protocol';
import { AdapterRegistry } from './adapter-registry.js';
import { detectArchiveFormat } from './archive-format.js';
import type { EntrypointLocation } from './entrypoint.js';
import { createThreadExtractor } from './extract-in-thread.js';
import { probeImports } from './import-probe.js';
import { purgeRequireCache } from './load-handler.js';
import { buildHandlers, locateAdapters, manifestRuntime } from './package-handlers.js';
import { readManifest, type LoadedManifest } from './read-manifest.js';
import { assertRuntime, checkIdentity, expectedSha256, parseInstallSource } from './install-checks.js';
import type {
  InstallRequest,
  InstallResult,
  LoadFailure,
  LoadInstalledResult,
  PackageInventory,
  PackageManager,
  PackageManagerOptions,
  PackageRef,
} from './package-manager-types.js';
import {
  MARKER_NAME,
  STAGING_PREFIX,
  findPackageRoot,
  isDirectory,
  moveIfExists,
  preparePackagesDir,
  quarantinePackage,
  subdirectories,
} from './package-folders.js';
import { buildInventory } from './inventory.js';
import { SerialQueue } from './serial-queue.js';
import type { HandlerLease } from './types.js';
import { comparePackageRefs, isValidPackageName, isValidPackageVersion } from './versions.js';
import { withTimeout } from './with-timeout.js';

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
/** Installed versions loaded (each through its own import probe process) at once at start-up. */
const STARTUP_LOAD_CONCURRENCY = 4;

const refKey = (name: string, version: string): string => `${name}@${version}`;

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) {
    throw new AstraError(
      ErrorCode.CONFIG_INVALID,
      `package manager option ${name} must be a non-negative number (got ${String(value)})`,
    );
  }
  return v;
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
      return Promise.reject(
        new AstraError(ErrorCode.PKG_INVALID, `invalid package version ${JSON.stringify(version)} (expected X.Y.Z)`),
      );
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
    const url = parseInstallSource(request);
    const expectedSha = expectedSha256(request, url, this.requireSha256);
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
      checkIdentity(loaded.manifest, name, version, 'the install command');
      const runnable = assertRuntime(loaded.manifest, this.runtimes);
      // Cheap checks first; then the package code runs, but only in a child process that it cannot take down with it.
      const locations = locateAdapters(stagedRoot, loaded.manifest, runnable);
      if (runnable) await this.probe(stagedRoot, loaded.manifest, locations);

      const finalDir = join(nameDir, version);
      await mkdir(nameDir, { recursive: true });
      const aside = join(staging, 'previous');
      // A folder no one serves (e.g. it failed to load at start-up) is replaced, but restored if this install fails.
      const hadPrevious = await moveIfExists(finalDir, aside);
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
    const runnable = assertRuntime(loaded.manifest, this.runtimes);
    // The probe passed, but code can behave differently on a second import: an unanswered install would block the name.
    const handlers = await withTimeout(
      buildHandlers({
        root,
        manifest: loaded.manifest,
        runtime: manifestRuntime(loaded.manifest),
        runnable,
        cacheKey: randomUUID(),
      }),
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
    this.rootReady ??= preparePackagesDir(this.packagesDir).catch((err: unknown) => {
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
        await moveIfExists(dir, trash);
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
      checkIdentity(loaded.manifest, name, version, 'its folder');
      const runnable = assertRuntime(loaded.manifest, this.runtimes);
      try {
        if (runnable) await this.probe(path, loaded.manifest, locateAdapters(path, loaded.manifest, runnable));
        await this.activate(name, version, path, loaded, undefined);
      } catch (err) {
        throw await quarantinePackage(
          this.packagesDir,
          { name, version, path },
          AstraError.wrap(err, ErrorCode.INTERNAL),
          this.logger,
        );
      }
      return { name, version };
    } catch (err) {
      const error = AstraError.wrap(err, ErrorCode.INTERNAL);
      const failure: LoadFailure = {
        name,
        version,
        path: (error.details?.['quarantined_to'] as string | undefined) ?? path,
        error,
      };
      this.failures.set(key, failure);
      this.logger.warn(
        { package: name, version, path: failure.path, code: error.code, err: error.message },
        'skipping broken package',
      );
      return failure;
    }
  }

  // -------------------------------------------------------------- inventory

  inventory(): PackageInventory {
    return buildInventory(this.installed.values(), this.failures.values());
  }
}

/**
 * Creates a {@link PackageManager} for `options.packagesDir`. Call
 * `loadInstalled()` once at start-up to serve what is already on disk.
 */
export function createPackageManager(options: PackageManagerOptions): PackageManager {
  return new DefaultPackageManager(options);
}
