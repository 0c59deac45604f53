import type { AstraError, Logger, Manifest, ManifestEntry, PackageStatus } from '@astraflow/protocol';
import type { AdapterRegistry } from './adapter-registry.js';
import type { HandlerLease } from './types.js';

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
