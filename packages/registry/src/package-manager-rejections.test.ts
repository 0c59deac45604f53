import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sampleArchive } from '@astraflow/examples';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  nodeManifest,
  packageArchive,
  removeDir,
  sha256,
  snapshotTree,
  startTestServer,
  tempDir,
  type TestServer,
} from './fixtures.test-util.js';
import { createPackageManager } from './package-manager.js';
import type { PackageManager, PackageManagerOptions } from './package-manager-types.js';
import { rawTgz } from './raw-tar.test-util.js';

let server: TestServer;
let base: string;
let packagesDir: string;
let manager: PackageManager;
let echoBytes: Buffer;

const ECHO_JS = 'export function echo(ctx) { return { echo: ctx.params.message }; }\n';
const PKG_JSON = '{"type":"module"}';

beforeAll(async () => {
  server = await startTestServer();
  echoBytes = await readFile(sampleArchive('echo', '1.0.0').path);
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  base = await tempDir('reject');
  packagesDir = join(base, 'packages');
  manager = createPackageManager({ packagesDir });
  // Every rejection below happens next to an installed, working version.
  await manager.install({
    name: 'echo',
    version: '1.0.0',
    url: server.put('echo-1.0.0.tgz', echoBytes),
    sha256: sha256(echoBytes),
  });
});

afterEach(async () => {
  await removeDir(base);
});

/** The installed echo 1.0.0 still resolves and runs. */
function expectEchoStillServes(pm: PackageManager = manager): void {
  const lease = pm.acquire('echo', '1.0.0', 'echo.echo');
  try {
    expect(lease.handler.fn?.({ params: { message: 'still here' } } as never)).toEqual({ echo: 'still here' });
  } finally {
    lease.release();
  }
}

/** Serves `data`, installs it as name@version (sha256 matching unless given), expects the error, and an unchanged tree. */
async function expectRejected(
  request: { name?: string; version?: string; data?: Buffer; url?: string; sha256?: string | undefined },
  expected: { code: string; message: RegExp },
  options: Partial<PackageManagerOptions> = {},
): Promise<void> {
  const pm = Object.keys(options).length === 0 ? manager : createPackageManager({ packagesDir, ...options });
  const before = await snapshotTree(packagesDir);
  const data = request.data ?? Buffer.alloc(0);
  const url = request.url ?? server.put(`a-${Math.random().toString(36).slice(2)}.tgz`, data);
  const install = pm.install({
    name: request.name ?? 'echo',
    version: request.version ?? '1.1.0',
    url,
    sha256: 'sha256' in request ? request.sha256 : sha256(data),
  });
  await expect(install).rejects.toMatchObject({ code: expected.code, message: expect.stringMatching(expected.message) });
  expect(await snapshotTree(packagesDir)).toEqual(before);
  expectEchoStillServes();
}

const echoPackage = (version: string, manifest?: string, adapter = ECHO_JS): Record<string, string> => ({
  'manifest.json': manifest ?? nodeManifest('echo', version, [{ type: 'echo.echo', handler: 'echo' }]),
  'package.json': PKG_JSON,
  'adapters/main.js': adapter,
});

describe('package install rejections leave packagesDir as it was and the old version serving', () => {
  it('wrong sha256 → E.PKG.CHECKSUM', async () => {
    await expectRejected(
      { data: packageArchive(echoPackage('1.1.0')), sha256: 'a'.repeat(64) },
      { code: 'E.PKG.CHECKSUM', message: /^sha256 mismatch: expected a{64}, got [0-9a-f]{64}$/ },
    );
  });

  it('manifest name or version differing from the command → E.PKG.INVALID', async () => {
    await expectRejected(
      { name: 'other', version: '1.0.0', data: echoBytes },
      { code: 'E.PKG.INVALID', message: /manifest declares echo@1\.0\.0, but the install command says other@1\.0\.0/ },
    );
    await expectRejected(
      { version: '1.1.0', data: echoBytes },
      { code: 'E.PKG.INVALID', message: /declares echo@1\.0\.0.*echo@1\.1\.0/ },
    );
  });

  it('invalid manifest → E.PKG.INVALID with the schema issues', async () => {
    const files = echoPackage('1.1.0', JSON.stringify({ name: 'echo', version: '1.1.0' }));
    await expectRejected(
      { data: packageArchive(files) },
      { code: 'E.PKG.INVALID', message: /manifest\.json is invalid: .*adapters/ },
    );
    await expectRejected(
      { data: packageArchive({ 'adapters/main.js': ECHO_JS }) },
      { code: 'E.PKG.INVALID', message: /manifest\.json not found/ },
    );
  });

  it('missing entrypoint → E.PKG.INVALID naming it', async () => {
    const manifest = nodeManifest('echo', '1.1.0', [{ type: 'echo.echo', handler: 'echo' }], 'adapters/missing.js');
    await expectRejected(
      { data: packageArchive(echoPackage('1.1.0', manifest)) },
      { code: 'E.PKG.INVALID', message: /adapter "main" entrypoint "adapters\/missing\.js".*not found/ },
    );
  });

  it('missing handler → E.PKG.INVALID naming node and handler', async () => {
    const manifest = nodeManifest('echo', '1.1.0', [{ type: 'echo.echo', handler: 'nope' }]);
    await expectRejected(
      { data: packageArchive(echoPackage('1.1.0', manifest)) },
      { code: 'E.PKG.INVALID', message: /node "echo\.echo" handler "nope".*exported functions: echo/ },
    );
  });

  it('adapter module that throws on import → E.PKG.INVALID, final folder rolled back', async () => {
    const files = echoPackage('1.1.0', undefined, 'throw new Error("cannot start");\n');
    await expectRejected({ data: packageArchive(files) }, { code: 'E.PKG.INVALID', message: /cannot start/ });
  });

  it('zip archive → E.PKG.INVALID naming the format', async () => {
    await expectRejected(
      { data: Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(200)]) },
      { code: 'E.PKG.INVALID', message: /^zip archives are not supported; use \.tar\.gz$/ },
    );
  });

  it('path-traversal entry → E.PKG.PERMISSION, nothing written outside', async () => {
    const data = packageArchive(echoPackage('1.1.0'), [{ path: 'package/../../../escaped.js', body: 'x' }]);
    await expectRejected({ data }, { code: 'E.PKG.PERMISSION', message: /leaves the extraction folder/ });
    expect(await snapshotTree(base)).not.toContainEqual(expect.stringContaining('escaped.js'));
  });

  it('absolute-path entry → E.PKG.PERMISSION', async () => {
    const data = packageArchive(echoPackage('1.1.0'), [{ path: '/tmp/astra-absolute-escape.js', body: 'x' }]);
    await expectRejected({ data }, { code: 'E.PKG.PERMISSION', message: /absolute path/ });
  });

  it('symlink escaping the package → E.PKG.PERMISSION', async () => {
    const data = packageArchive(echoPackage('1.1.0'), [
      { path: 'package/adapters/secret', type: '2', linkpath: '../../../../../etc/passwd' },
    ]);
    await expectRejected({ data }, { code: 'E.PKG.PERMISSION', message: /symlink/ });
  });

  it('archive over the download limit → E.PKG.INVALID (http and file)', async () => {
    // Random bytes do not compress, so the archive itself is large.
    const noise = randomBytes(50_000);
    const big = rawTgz([{ path: 'package/blob', body: noise }]);
    expect(big.length).toBeGreaterThan(4096);
    await expectRejected(
      { data: big },
      { code: 'E.PKG.INVALID', message: /exceeds the download limit of 4096 bytes/ },
      { maxDownloadBytes: 4096 },
    );
    const file = join(base, 'big.tgz');
    await writeFile(file, big);
    await expectRejected(
      { url: pathToFileURL(file).href, sha256: undefined },
      { code: 'E.PKG.INVALID', message: /exceeds the download limit of 4096 bytes/ },
      { maxDownloadBytes: 4096 },
    );
  });

  it('archive bomb (unpacked size, entry count) → E.PKG.INVALID', async () => {
    const bomb = packageArchive(echoPackage('1.1.0'), [{ path: 'package/zeros.bin', body: Buffer.alloc(2 * 1024 * 1024) }]);
    await expectRejected(
      { data: bomb },
      { code: 'E.PKG.INVALID', message: /unpacks to more than 1048576 bytes/ },
      { maxExtractedBytes: 1024 * 1024 },
    );
    const many = packageArchive(
      echoPackage('1.1.0'),
      Array.from({ length: 30 }, (_, i) => ({ path: `package/f/${i}.txt`, body: 'x' })),
    );
    await expectRejected({ data: many }, { code: 'E.PKG.INVALID', message: /more than 20 entries/ }, { maxEntries: 20 });
  });

  it('HTTP 404 and 500 → E.PKG.DOWNLOAD with the status', async () => {
    await expectRejected({ url: `${server.base}/files/missing.tgz` }, { code: 'E.PKG.DOWNLOAD', message: /HTTP 404/ });
    await expectRejected({ url: `${server.base}/status/500` }, { code: 'E.PKG.DOWNLOAD', message: /HTTP 500/ });
  });

  it('server that never answers → E.PKG.DOWNLOAD timeout', async () => {
    await expectRejected(
      { url: `${server.base}/hang` },
      { code: 'E.PKG.DOWNLOAD', message: /timed out after 300 ms/ },
      { downloadTimeoutMs: 300 },
    );
  });

  it('too many redirects → E.PKG.DOWNLOAD; a few are followed', async () => {
    const data = packageArchive(echoPackage('1.1.0'));
    server.put('redirected.tgz', data);
    await expectRejected(
      { url: `${server.base}/redirect/4/redirected.tgz`, data },
      { code: 'E.PKG.DOWNLOAD', message: /too many redirects \(limit 2\)/ },
      { maxRedirects: 2 },
    );
    const ok = await manager.install({
      name: 'echo',
      version: '1.1.0',
      url: `${server.base}/redirect/2/redirected.tgz`,
      sha256: sha256(data),
    });
    expect(ok.alreadyInstalled).toBe(false);
  });

  it('bad commands: unsupported scheme, missing sha256 for http, bad names → E.PKG.INVALID', async () => {
    await expectRejected({ url: 'ftp://127.0.0.1/echo.tgz' }, { code: 'E.PKG.INVALID', message: /unsupported URL scheme "ftp"/ });
    await expectRejected({ data: echoBytes, sha256: undefined }, { code: 'E.PKG.INVALID', message: /sha256 is required/ });
    await expectRejected({ name: '../evil', data: echoBytes }, { code: 'E.PKG.INVALID', message: /invalid package name/ });
    await expectRejected({ version: '../../x', data: echoBytes }, { code: 'E.PKG.INVALID', message: /invalid package version/ });
    await expectRejected({ url: 'not a url' }, { code: 'E.PKG.INVALID', message: /not a valid URL/ });
  });
});
