import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from './fixtures.test-util.js';
import { loadHandler } from './load-handler.js';

let root: string;

const write = async (rel: string, text: string): Promise<string> => {
  const path = join(root, rel);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
};

beforeAll(async () => {
  root = await tempDir('load');
  await write('esm/package.json', '{"type":"module"}');
  await write('cjs/package.json', '{"type":"commonjs"}');
});

afterAll(async () => {
  await removeDir(root);
});

describe('loadHandler', () => {
  it('loads a named export of an ES module and tells async from sync', async () => {
    const path = await write(
      'esm/plain.js',
      'export function echo(ctx) { return { echo: ctx.message }; }\nexport async function later() { return 1; }\n',
    );
    const sync = await loadHandler(path, undefined, 'echo');
    expect(sync.isAsync).toBe(false);
    expect(sync.fn({ message: 'hi' } as never)).toEqual({ echo: 'hi' });
    const async = await loadHandler(path, undefined, 'later');
    expect(async.isAsync).toBe(true);
    await expect(async.fn(undefined as never)).resolves.toBe(1);
  });

  it('follows the package type: .js in a commonjs package and .cjs are CommonJS', async () => {
    const js = await write('cjs/handlers.js', 'exports.kind = function kind() { return typeof module; };\n');
    expect((await loadHandler(js, undefined, 'kind')).fn(undefined as never)).toBe('object');
    const cjs = await write('esm/legacy.cjs', 'module.exports = { kind() { return typeof require; } };\n');
    expect((await loadHandler(cjs, undefined, 'kind')).fn(undefined as never)).toBe('function');
  });

  it('instantiates an exported class once and binds its methods', async () => {
    const path = await write(
      'esm/tools.mjs',
      [
        'export let constructed = 0;',
        'export class Tools {',
        '  constructor() { constructed += 1; this.prefix = "p:"; }',
        '  tag(ctx) { return this.prefix + ctx; }',
        '  async slow() { return this.prefix; }',
        '}',
        '',
      ].join('\n'),
    );
    const tag = await loadHandler(path, 'Tools', 'tag');
    const slow = await loadHandler(path, 'Tools', 'slow');
    expect(tag.fn('x' as never)).toBe('p:x');
    expect(slow.isAsync).toBe(true);
    await expect(slow.fn(undefined as never)).resolves.toBe('p:');
    const mod = (await import(path)) as { constructed: number };
    expect(mod.constructed).toBe(1);
  });

  it('calls methods of an exported object bound to it, also through the default export', async () => {
    const obj = await write('esm/obj.mjs', 'export const Api = { n: 5, get() { return this.n; } };\n');
    expect((await loadHandler(obj, 'Api', 'get')).fn(undefined as never)).toBe(5);
    const def = await write('esm/def.mjs', 'export default { n: 7, get() { return this.n; } };\n');
    expect((await loadHandler(def, undefined, 'get')).fn(undefined as never)).toBe(7);
  });

  it('names what is missing: module, export, handler', async () => {
    const path = await write('esm/few.js', 'export function a() {}\nexport function b() {}\nexport const value = 1;\n');
    await expect(loadHandler(join(root, 'esm/none.js'), undefined, 'a')).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringContaining('not found'),
    });
    await expect(loadHandler(path, undefined, 'c')).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringMatching(/handler "c".*exported functions: a, b\)/),
    });
    await expect(loadHandler(path, 'Nope', 'a')).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringMatching(/no export "Nope" \(exports: a, b, value\)/),
    });
    await expect(loadHandler(path, undefined, 'value')).rejects.toMatchObject({ code: 'E.PKG.INVALID' });
  });

  it('reports a module that throws while loading as E.PKG.INVALID', async () => {
    const path = await write('esm/broken.js', 'throw new Error("top-level failure");\n');
    await expect(loadHandler(path, undefined, 'x')).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringContaining('top-level failure'),
    });
  });

  it('re-reads changed files when the cache key changes (ESM and CommonJS)', async () => {
    const scope = join(root, 'reinstall');
    await write('reinstall/package.json', '{"type":"module"}');
    const esm = await write('reinstall/a.js', 'export function v() { return 1; }\n');
    const cjs = await write('reinstall/b.cjs', 'module.exports = { v: () => 1 };\n');
    expect((await loadHandler(esm, undefined, 'v', { cacheKey: 'one', packageRoot: scope })).fn(undefined as never)).toBe(1);
    expect((await loadHandler(cjs, undefined, 'v', { cacheKey: 'one', packageRoot: scope })).fn(undefined as never)).toBe(1);
    await writeFile(esm, 'export function v() { return 2; }\n');
    await writeFile(cjs, 'module.exports = { v: () => 2 };\n');
    // Same key: the cached modules stay (one evaluation per installation).
    expect((await loadHandler(esm, undefined, 'v', { cacheKey: 'one', packageRoot: scope })).fn(undefined as never)).toBe(1);
    expect((await loadHandler(esm, undefined, 'v', { cacheKey: 'two', packageRoot: scope })).fn(undefined as never)).toBe(2);
    expect((await loadHandler(cjs, undefined, 'v', { cacheKey: 'two', packageRoot: scope })).fn(undefined as never)).toBe(2);
  });
});

describe('loadHandler in a plain Node process', () => {
  // vitest loads modules through its own runner; this checks Node's real module caches.
  it('re-reads changed ESM and CommonJS files when the cache key changes', async () => {
    const dist = fileURLToPath(new URL('../dist/load-handler.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} missing: build the package first (npx tsc -b)`);
    const dir = join(root, 'native');
    await write('native/package.json', '{"type":"module"}');
    const script = `
      import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { pathToFileURL } from 'node:url';
      const { loadHandler } = await import(pathToFileURL(process.argv[1]).href);
      const dir = process.argv[2];
      const out = [];
      for (const [n, key] of [[1, 'a'], [2, 'a'], [2, 'b']]) {
        if (n === 1 || key === 'a') {
          writeFileSync(join(dir, 'e.js'), 'export function v() { return ' + n + '; }');
          writeFileSync(join(dir, 'c.cjs'), 'exports.v = () => ' + n + ';');
        }
        for (const file of ['e.js', 'c.cjs']) {
          const { fn } = await loadHandler(join(dir, file), undefined, 'v', { cacheKey: key, packageRoot: dir });
          out.push(fn());
        }
      }
      console.log(JSON.stringify(out));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dist, dir]);
    // Same key: still the first evaluation; new key: the files on disk.
    expect(JSON.parse(stdout)).toEqual([1, 1, 1, 1, 2, 2]);
  });
});
