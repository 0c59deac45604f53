/** Checks of an install command and of the manifest it brings, before any package code runs. */
import { AstraError, ErrorCode, type Manifest } from '@astraflow/protocol';
import { checkNodeRequirement } from './node-requirement.js';
import { manifestRuntime, nodeRequirementOf } from './package-handlers.js';
import type { InstallRequest } from './package-manager-types.js';

const SCHEMES = new Set(['http:', 'https:', 'file:']);

/** The archive URL of an install command: present, parseable, and http, https or file. */
export function parseInstallSource(request: InstallRequest): URL {
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

/**
 * The sha256 the downloaded archive must have (lower case), or undefined
 * when none is given and none is required (`package_require_sha256` off, or
 * a `file:` URL). The download is checked against it in `package-manager.ts`.
 */
export function expectedSha256(request: InstallRequest, url: URL, requireSha256: boolean): string | undefined {
  const given = request.sha256;
  if (given === undefined || given === '') {
    if (requireSha256 && url.protocol !== 'file:') {
      throw new AstraError(ErrorCode.PKG_INVALID, `sha256 is required to install from ${url.protocol.replace(/:$/, '')} URLs`);
    }
    return undefined;
  }
  if (!/^[A-Fa-f0-9]{64}$/.test(given)) {
    throw new AstraError(ErrorCode.PKG_INVALID, 'sha256 must be 64 hexadecimal characters');
  }
  return given.toLowerCase();
}

/** Refuses a manifest that names another package or version than `against` (the command, or the folder it sits in) does. */
export function checkIdentity(manifest: Manifest, name: string, version: string, against: string): void {
  if (manifest.name !== name || manifest.version !== version) {
    throw new AstraError(
      ErrorCode.PKG_INVALID,
      `manifest declares ${manifest.name}@${manifest.version}, but ${against} says ${name}@${version}`,
      { details: { manifest_name: manifest.name, manifest_version: manifest.version } },
    );
  }
}

/** Refuses `node` packages whose `requires` range excludes this Node.js or does not parse; returns whether the package is runnable here. */
export function assertRuntime(manifest: Manifest, runtimes: readonly string[]): boolean {
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
  return runtimes.includes('node');
}
