import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileUrlOf, nodeManifest, packageArchive, removeDir, snapshotTree, tempDir } from './fixtures.test-util.js';
import { createPackageManager } from './package-manager.js';
import { probeEnvironment } from './import-probe.js';

const PKG_JSON = '{"type":"module"}';
const GOOD_JS = 'export function echo(ctx) { return { echo: ctx.params.message }; }\n';
/** Module bodies package code must not be able to take the worker down with. */
const HOSTILE: Record<string, { body: string; message: RegExp; reason: string }> = {
  exits: { body: 'process.exit(7);\n', message: /exited with code 7/, reason: 'exit' },
  aborts: { body: 'process.abort();\n', message: /killed by SIGABRT/, reason: 'exit' },
  throws: { body: 'throw new Error("cannot start");\n', message: /cannot start/, reason: 'load' },
  loops: { body: 'while (true) {}\n', message: /did not finish within 3000 ms/, reason: 'timeout' },
  awaits: {
    body: 'await new Promise(() => {});\nexport function echo() {}\n',
    message: /top-level await never settles/,
    reason: 'unsettled',
  },
  'awaits-busy': {
    body: 'setInterval(() => {}, 1000);\nawait new Promise(() => {});\nexport function echo() {}\n',
    message: /did not finish within 3000 ms/,
    reason: 'timeout',
  },
};

const files = (name: string, adapter: string): Record<string, string> => ({
  'manifest.json': nodeManifest(name, '1.0.0', [{ type: `${name}.echo`, handler: 'echo' }]),
  'package.json': PKG_JSON,
  'adapters/main.js': adapter,
});

let base: string;
beforeAll(async () => {
  base = await tempDir('probe');
});
afterAll(async () => {
  await removeDir(base);
});

describe('import probe', () => {
  it.each(Object.entries(HOSTILE))(
    'a module that %s at import fails the install, leaves nothing and frees the name',
    async (kind, c) => {
      const packagesDir = join(base, `install-${kind}`);
      const manager = createPackageManager({ packagesDir, importTimeoutMs: 3000 });
      await manager.install({
        name: 'good',
        version: '1.0.0',
        url: await fileUrlOf(base, `good-${kind}.tgz`, packageArchive(files('good', GOOD_JS))),
      });
      const before = await snapshotTree(packagesDir);
      const url = await fileUrlOf(base, `${kind}.tgz`, packageArchive(files('bad', c.body)));
      await expect(manager.install({ name: 'bad', version: '1.0.0', url })).rejects.toMatchObject({
        code: 'E.PKG.INVALID',
        message: expect.stringMatching(c.message),
        details: expect.objectContaining({ reason: c.reason }),
      });
      expect(await snapshotTree(packagesDir)).toEqual(before);
      // The per-name queue is free: a good archive under the same name installs now.
      const fixed = await fileUrlOf(base, `${kind}-fixed.tgz`, packageArchive(files('bad', GOOD_JS)));
      await expect(manager.install({ name: 'bad', version: '1.0.0', url: fixed })).resolves.toMatchObject({
        alreadyInstalled: false,
      });
    },
    20_000,
  );

  it('a package whose code fails at start-up is quarantined; the healthy ones load', async () => {
    const packagesDir = join(base, 'startup');
    for (const [name, body] of [
      ['good', GOOD_JS],
      ['exits', HOSTILE['exits']!.body],
      ['loops', HOSTILE['loops']!.body],
    ] as const) {
      const dir = join(packagesDir, name, '1.0.0');
      await mkdir(join(dir, 'adapters'), { recursive: true });
      for (const [path, text] of Object.entries(files(name, body))) await writeFile(join(dir, path), text);
    }
    const manager = createPackageManager({ packagesDir, importTimeoutMs: 3000 });
    const result = await manager.loadInstalled();
    expect(result.loaded).toEqual([{ name: 'good', version: '1.0.0' }]);
    expect(result.failed.map((f) => [f.name, f.error.details?.['reason']])).toEqual([
      ['exits', 'exit'],
      ['loops', 'timeout'],
    ]);
    expect(manager.inventory().packages).toEqual([
      { name: 'exits', version: '1.0.0', status: 'failed' },
      { name: 'good', version: '1.0.0', status: 'installed' },
      { name: 'loops', version: '1.0.0', status: 'failed' },
    ]);
    expect((await readdir(packagesDir)).filter((n) => !n.startsWith('.')).sort()).toEqual(['good', 'package.json']);
    expect((await readdir(join(packagesDir, '.quarantine'))).map((n) => n.replace(/-\d+$/, '')).sort()).toEqual([
      'exits@1.0.0',
      'loops@1.0.0',
    ]);
    // The next start finds nothing to fail on.
    const again = await createPackageManager({ packagesDir, importTimeoutMs: 3000 }).loadInstalled();
    expect(again).toEqual({ loaded: [{ name: 'good', version: '1.0.0' }], failed: [] });
  }, 20_000);

  it('package code in the probe sees no ASTRA_WORKER_* variable', () => {
    const env = probeEnvironment({ PATH: '/bin', ASTRA_WORKER_AUTH_TOKEN: 's3cret', NODE_OPTIONS: '--require x', HOME: '/h' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/h' });
  });
});
