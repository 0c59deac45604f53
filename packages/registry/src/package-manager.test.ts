import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sampleArchive } from '@astraflow/examples';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  nodeManifest,
  packageArchive,
  removeDir,
  sha256,
  startTestServer,
  tempDir,
  type TestServer,
} from './fixtures.test-util.js';
import { createPackageManager } from './package-manager.js';
import type { PackageManager } from './package-manager-types.js';

let server: TestServer;
let base: string;
let packagesDir: string;
let manager: PackageManager;

const samples = new Map<string, Buffer>();

async function sample(name: string, version: string): Promise<{ url: string; sha256: string; bytes: Buffer }> {
  const archive = sampleArchive(name, version);
  let bytes = samples.get(archive.path);
  if (bytes === undefined) {
    bytes = await readFile(archive.path);
    samples.set(archive.path, bytes);
  }
  expect(sha256(bytes)).toBe(archive.sha256);
  return { url: server.put(`${name}-${version}.tgz`, bytes), sha256: archive.sha256, bytes };
}

async function installSample(name: string, version: string, pm: PackageManager = manager) {
  const { url, sha256: digest } = await sample(name, version);
  return pm.install({ name, version, url, sha256: digest });
}

/** Runs one node through a lease, the way the runner does. */
async function run(
  pm: PackageManager,
  name: string,
  version: string,
  nodeType: string,
  params: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  const lease = pm.acquire(name, version, nodeType);
  try {
    return await lease.handler.fn!({ params, ...extra } as never);
  } finally {
    lease.release();
  }
}

function hitsOf(path: string): number {
  return server.hits.filter((h) => h === path).length;
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  base = await tempDir('pm');
  packagesDir = join(base, 'packages');
  manager = createPackageManager({ packagesDir });
});

afterEach(async () => {
  await removeDir(base);
});

describe('install', () => {
  it('installs a sample archive over HTTP and runs its handler', async () => {
    const result = await installSample('echo', '1.0.0');
    expect(result).toMatchObject({ name: 'echo', version: '1.0.0', alreadyInstalled: false });
    expect(result.manifest.nodes.map((n) => n.type)).toEqual(['echo.echo', 'echo.fail']);
    await expect(run(manager, 'echo', '1.0.0', 'echo.echo', { message: 'hi' })).resolves.toEqual({ echo: 'hi' });
    await expect(run(manager, 'echo', '1.0.0', 'echo.fail')).rejects.toThrow('boom');
    expect(existsSync(join(packagesDir, 'echo', '1.0.0', 'manifest.json'))).toBe(true);
    // Only the package and the type marker remain: no staging folders.
    expect((await readdir(packagesDir)).sort()).toEqual(['echo', 'package.json']);
  });

  it('installs from a file: URL and resolves all three entrypoint forms', async () => {
    const archive = sampleArchive('samples', '1.0.0');
    await manager.install({ name: 'samples', version: '1.0.0', url: pathToFileURL(archive.path).href });
    const reg = manager.registry;
    const slow = reg.resolve('samples', '1.0.0', 'samples.slow');
    expect(slow).toMatchObject({ isAsync: true, exportName: undefined, handlerName: 'slow', runtime: 'node' });
    expect(slow.modulePath).toBe(join(packagesDir, 'samples', '1.0.0', 'adapters', 'timing.js'));
    expect(reg.resolve('samples', '1.0.0', 'samples.cpu').isAsync).toBe(false);
    const status = reg.resolve('samples', '1.0.0', 'samples.status');
    expect(status).toMatchObject({
      exportName: 'Tools',
      execMode: 'inline',
      metadata: { owner: 'examples', exec_mode: 'inline' },
    });
    expect(reg.resolve('samples', '1.0.0', 'samples.fail').modulePath).toBe(
      join(packagesDir, 'samples', '1.0.0', 'adapters', 'errors.cjs'),
    );

    await expect(run(manager, 'samples', '1.0.0', 'samples.status', { status: 'DONE' })).resolves.toEqual({ status: 'DONE' });
    await expect(run(manager, 'samples', '1.0.0', 'samples.cpu', { ms: 5 })).resolves.toMatchObject({ burned_ms: 5 });
    await expect(run(manager, 'samples', '1.0.0', 'samples.fail', { message: 'nope' })).rejects.toThrow('nope');
    await expect(run(manager, 'samples', '1.0.0', 'samples.bad_output')).resolves.toEqual({ value: 2n ** 64n });
    await expect(
      run(manager, 'samples', '1.0.0', 'samples.next', {}, { next: async (p: unknown) => ({ got: p }) }),
    ).resolves.toEqual({
      next: { got: { x: 1 } },
    });
    const sent: unknown[] = [];
    const feedback = { send: async (f: unknown) => void sent.push(f), emitText: async (t: string) => void sent.push(t) };
    await expect(run(manager, 'samples', '1.0.0', 'samples.feedback', { count: 2 }, { feedback })).resolves.toEqual({ sent: 2 });
    expect(sent).toEqual([{ progress: 0.5, message: 'step 1/2' }, 'line 1\n', { progress: 1, message: 'step 2/2' }, 'line 2\n']);
    const controller = new AbortController();
    const pending = run(manager, 'samples', '1.0.0', 'samples.slow', { ms: 60_000 }, { signal: controller.signal });
    controller.abort(new Error('cancelled by test'));
    await expect(pending).rejects.toThrow('cancelled by test');
  });

  it('is idempotent for the same name and version (no second download)', async () => {
    await installSample('echo', '1.0.0');
    const second = await installSample('echo', '1.0.0');
    expect(second.alreadyInstalled).toBe(true);
    expect(hitsOf('/files/echo-1.0.0.tgz')).toBeGreaterThan(0);
    const before = hitsOf('/files/echo-1.0.0.tgz');
    await expect(manager.install({ name: 'echo', version: '1.0.0' })).resolves.toMatchObject({ alreadyInstalled: true });
    expect(hitsOf('/files/echo-1.0.0.tgz')).toBe(before);
  });

  it('serialises concurrent installs of one package', async () => {
    const before = hitsOf('/files/echo-1.0.0.tgz');
    const results = await Promise.all([
      installSample('echo', '1.0.0'),
      installSample('echo', '2.0.0'),
      installSample('echo', '1.0.0'),
    ]);
    expect(results.map((r) => [r.version, r.alreadyInstalled])).toEqual([
      ['1.0.0', false],
      ['2.0.0', false],
      ['1.0.0', true],
    ]);
    // Run in parallel, both installs of 1.0.0 would have downloaded.
    expect(hitsOf('/files/echo-1.0.0.tgz') - before).toBe(1);
  });

  it('keeps two versions side by side; uninstalling one leaves the other', async () => {
    await installSample('echo', '1.0.0');
    await installSample('echo', '2.0.0');
    await expect(run(manager, 'echo', '1.0.0', 'echo.echo', { message: 'a' })).resolves.toEqual({ echo: 'a' });
    await expect(run(manager, 'echo', '2.0.0', 'echo.echo', { message: 'b' })).resolves.toEqual({ echo: 'b', version: 2 });
    await expect(manager.uninstall('echo', '1.0.0')).resolves.toEqual([{ name: 'echo', version: '1.0.0' }]);
    expect(() => manager.acquire('echo', '1.0.0', 'echo.echo')).toThrow(
      expect.objectContaining({
        code: 'E.PKG.NOT_FOUND',
        message: 'package "echo" has no version 1.0.0 (installed versions: 2.0.0)',
      }),
    );
    await expect(run(manager, 'echo', '2.0.0', 'echo.echo', { message: 'c' })).resolves.toEqual({ echo: 'c', version: 2 });
    expect(existsSync(join(packagesDir, 'echo', '1.0.0'))).toBe(false);
    expect(existsSync(join(packagesDir, 'echo', '2.0.0'))).toBe(true);
    await expect(manager.uninstall('echo')).resolves.toEqual([{ name: 'echo', version: '2.0.0' }]);
    expect(existsSync(join(packagesDir, 'echo'))).toBe(false);
    await expect(manager.uninstall('echo')).resolves.toEqual([]);
  });

  it('runs the new code after uninstall and re-install of the same version (ESM and CommonJS adapters)', async () => {
    const manifest = JSON.parse(nodeManifest('mut', '1.0.0', [{ type: 'mut.v', handler: 'v' }])) as {
      adapters: unknown[];
      nodes: Array<Record<string, unknown>>;
    };
    manifest.adapters.push({ name: 'legacy', entrypoint: 'adapters.legacy', capabilities: ['mut.c'] });
    manifest.nodes.push({ ...manifest.nodes[0], type: 'mut.c', adapter: 'legacy', handler: 'c' });
    for (const n of [1, 2]) {
      const data = packageArchive({
        'manifest.json': JSON.stringify(manifest),
        'package.json': '{"type":"module"}',
        'adapters/main.js': `export function v() { return ${n}; }\n`,
        'adapters/legacy.cjs': `exports.c = () => ${n};\n`,
      });
      await manager.install({ name: 'mut', version: '1.0.0', url: server.put(`mut-${n}.tgz`, data), sha256: sha256(data) });
      await expect(run(manager, 'mut', '1.0.0', 'mut.v')).resolves.toBe(n);
      await expect(run(manager, 'mut', '1.0.0', 'mut.c')).resolves.toBe(n);
      await manager.uninstall('mut', '1.0.0');
    }
  });
});

describe('uninstall', () => {
  it('refuses new leases at once and waits for held ones before removing files', async () => {
    await installSample('echo', '1.0.0');
    const lease = manager.acquire('echo', '1.0.0', 'echo.echo');
    let done = false;
    const uninstalling = manager.uninstall('echo', '1.0.0').then((removed) => {
      done = true;
      return removed;
    });
    expect(() => manager.acquire('echo', '1.0.0', 'echo.echo')).toThrow(
      expect.objectContaining({ code: 'E.PKG.UNINSTALLING', message: 'package echo@1.0.0 is being uninstalled' }),
    );
    for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    // The running task can still finish with its handler.
    expect(lease.handler.fn?.({ params: { message: 'in flight' } } as never)).toEqual({ echo: 'in flight' });
    expect(existsSync(join(packagesDir, 'echo', '1.0.0'))).toBe(true);
    lease.release();
    lease.release();
    await expect(uninstalling).resolves.toEqual([{ name: 'echo', version: '1.0.0' }]);
    expect(existsSync(join(packagesDir, 'echo'))).toBe(false);
    expect(manager.inventory()).toEqual({ packages: [], manifests: [] });
  });
});

describe('start-up', () => {
  it('reloads installed packages in a new manager, skips a broken one and removes stale staging folders', async () => {
    await installSample('echo', '1.0.0');
    await installSample('echo', '2.0.0');
    await installSample('samples', '1.0.0');
    await mkdir(join(packagesDir, 'broken', '1.0.0'), { recursive: true });
    await writeFile(join(packagesDir, 'broken', '1.0.0', 'manifest.json'), '{ not json');
    await mkdir(join(packagesDir, '.tmp-crashed', 'content'), { recursive: true });

    const restarted = createPackageManager({ packagesDir });
    const { loaded, failed } = await restarted.loadInstalled();
    expect(loaded).toEqual([
      { name: 'echo', version: '1.0.0' },
      { name: 'echo', version: '2.0.0' },
      { name: 'samples', version: '1.0.0' },
    ]);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ name: 'broken', version: '1.0.0', path: join(packagesDir, 'broken', '1.0.0') });
    expect(failed[0]?.error).toMatchObject({ code: 'E.PKG.INVALID', message: expect.stringContaining('not valid JSON') });
    expect(existsSync(join(packagesDir, '.tmp-crashed'))).toBe(false);
    await expect(run(restarted, 'echo', '2.0.0', 'echo.echo', { message: 'back' })).resolves.toEqual({
      echo: 'back',
      version: 2,
    });
    await expect(run(restarted, 'samples', '1.0.0', 'samples.status', { status: 'OK' })).resolves.toEqual({ status: 'OK' });

    const inventory = restarted.inventory();
    expect(inventory.packages).toEqual([
      { name: 'broken', version: '1.0.0', status: 'failed' },
      { name: 'echo', version: '1.0.0', status: 'installed' },
      { name: 'echo', version: '2.0.0', status: 'installed' },
      { name: 'samples', version: '1.0.0', status: 'installed' },
    ]);
    expect(inventory.manifests.map((m) => `${m.name}@${m.version}`)).toEqual(['echo@1.0.0', 'echo@2.0.0', 'samples@1.0.0']);
    expect(inventory.manifests[0]?.manifest).toEqual(
      JSON.parse(await readFile(join(packagesDir, 'echo', '1.0.0', 'manifest.json'), 'utf8')),
    );

    // Loading twice changes nothing; uninstalling the broken one removes its folder and its status.
    await expect(restarted.loadInstalled()).resolves.toMatchObject({ failed: [{ name: 'broken' }] });
    await expect(restarted.uninstall('broken')).resolves.toEqual([{ name: 'broken', version: '1.0.0' }]);
    expect(existsSync(join(packagesDir, 'broken'))).toBe(false);
    expect(restarted.inventory().packages.map((p) => p.name)).toEqual(['echo', 'echo', 'samples']);
  });

  it('replaces a broken leftover folder on install', async () => {
    await mkdir(join(packagesDir, 'echo', '1.0.0'), { recursive: true });
    await writeFile(join(packagesDir, 'echo', '1.0.0', 'manifest.json'), '{}');
    expect((await manager.loadInstalled()).failed).toHaveLength(1);
    await installSample('echo', '1.0.0');
    await expect(run(manager, 'echo', '1.0.0', 'echo.echo', { message: 'fixed' })).resolves.toEqual({ echo: 'fixed' });
    expect(manager.inventory().packages).toEqual([{ name: 'echo', version: '1.0.0', status: 'installed' }]);
  });
});

describe('foreign runtimes', () => {
  it('installs and lists the upstream python package, but refuses to run it', async () => {
    const protocolDir = dirname(createRequire(import.meta.url).resolve('@astraflow/protocol/package.json'));
    const manifestText = await readFile(join(protocolDir, 'fixtures', 'upstream-manifests', 'example_pkg.manifest.json'), 'utf8');
    const data = packageArchive({ 'manifest.json': manifestText, 'adapters/echo.py': 'def echo(ctx):\n    return {}\n' });
    await manager.install({ name: 'example.pkg', version: '1.0.0', url: server.put('example.tgz', data), sha256: sha256(data) });
    const inventory = manager.inventory();
    expect(inventory.packages).toEqual([{ name: 'example.pkg', version: '1.0.0', status: 'installed' }]);
    expect(inventory.manifests[0]?.manifest).toEqual(JSON.parse(manifestText));
    expect(manager.registry.list().every((h) => h.runtime === 'python' && h.fn === undefined)).toBe(true);
    expect(() => manager.acquire('example.pkg', '1.0.0', 'example.pkg.echo')).toThrow(
      expect.objectContaining({
        code: 'E.PKG.RUNTIME_UNSUPPORTED',
        message: 'runtime python not available on this worker (has: node)',
      }),
    );
    // A lookup of a node the package does not have still says what exists.
    expect(() => manager.acquire('example.pkg', '1.0.0', 'nope')).toThrow(expect.objectContaining({ code: 'E.PKG.NOT_FOUND' }));
  });

  it('runs the catalog-compatible JS form: dotted entrypoint, runtime in adapter metadata, python block ignored', async () => {
    const protocolDir = dirname(createRequire(import.meta.url).resolve('@astraflow/protocol/package.json'));
    const manifestText = await readFile(
      join(protocolDir, 'fixtures', 'js-manifests', 'catalog-compatible.manifest.json'),
      'utf8',
    );
    const data = packageArchive({
      'manifest.json': manifestText,
      'package.json': '{"type":"module"}',
      'adapters/text.js': 'export const upper = (ctx) => ({ text: String(ctx.params.text).toUpperCase() });\n',
    });
    await manager.install({ name: 'acme.text', version: '1.2.0', url: server.put('acme-text.tgz', data), sha256: sha256(data) });
    expect(manager.registry.list().map((h) => h.runtime)).toEqual(['node']);
    expect(await run(manager, 'acme.text', '1.2.0', 'acme.text.upper', { text: 'shout' })).toEqual({ text: 'SHOUT' });
    // adapters[].metadata.node_requires is enforced like node.requires.
    const future = JSON.parse(manifestText) as { name: string; adapters: Array<{ metadata: Record<string, unknown> }> };
    future.name = 'acme.future';
    future.adapters[0]!.metadata['node_requires'] = '>=999';
    const bad = packageArchive({ 'manifest.json': JSON.stringify(future), 'adapters/text.js': 'exports.upper = () => ({});\n' });
    await expect(
      manager.install({ name: 'acme.future', version: '1.2.0', url: server.put('acme-future.tgz', bad), sha256: sha256(bad) }),
    ).rejects.toMatchObject({ code: 'E.PKG.RUNTIME_UNSUPPORTED' });
  });

  it('refuses a node package whose node.requires excludes this Node.js', async () => {
    const manifest = JSON.parse(nodeManifest('future', '1.0.0', [{ type: 'future.x', handler: 'x' }])) as Record<string, unknown>;
    manifest['node'] = { requires: '>=999' };
    const data = packageArchive({ 'manifest.json': JSON.stringify(manifest), 'adapters/main.js': 'exports.x = () => 1;\n' });
    await expect(
      manager.install({ name: 'future', version: '1.0.0', url: server.put('future.tgz', data), sha256: sha256(data) }),
    ).rejects.toMatchObject({ code: 'E.PKG.RUNTIME_UNSUPPORTED', message: expect.stringContaining('requires node >=999') });
  });

  it('refuses caret and alternative ranges that exclude this Node.js, and ranges that do not parse', async () => {
    const attempt = (version: string, requires: string) => {
      const manifest = JSON.parse(nodeManifest('ranged', version, [{ type: 'ranged.x', handler: 'x' }])) as Record<
        string,
        unknown
      >;
      manifest['node'] = { requires };
      const data = packageArchive({ 'manifest.json': JSON.stringify(manifest), 'adapters/main.js': 'exports.x = () => 1;\n' });
      return manager.install({ name: 'ranged', version, url: server.put(`ranged-${version}.tgz`, data), sha256: sha256(data) });
    };
    const older = `^${Number(process.versions.node.split('.')[0]) - 2}`;
    await expect(attempt('1.0.0', older)).rejects.toMatchObject({ code: 'E.PKG.RUNTIME_UNSUPPORTED' });
    await expect(attempt('1.0.1', `${older} || ^999`)).rejects.toMatchObject({ code: 'E.PKG.RUNTIME_UNSUPPORTED' });
    await expect(attempt('1.0.2', 'newest please')).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringContaining('is not a valid semver range'),
    });
    await expect(attempt('1.0.3', `${older} || >=${process.versions.node}`)).resolves.toBeDefined();
  });
});
