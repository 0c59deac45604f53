import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import * as tar from 'tar';

/** One node of a test package: its type suffix, handler source and exec mode. */
export interface TestNode {
  handler: string;
  /** `async function …` or `function …` source of the export named `handler`. */
  source: string;
  execMode?: 'inline' | 'thread';
}

/**
 * Writes a package folder `<dir>/<name>` with one adapter module: `prelude`
 * (top-level code, run at import) followed by the nodes' handlers.
 */
export async function writePackage(dir: string, name: string, prelude: string, nodes: TestNode[] = []): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'adapters'), { recursive: true });
  const manifest = {
    schemaVersion: '1.0.0',
    name,
    version: '1.0.0',
    description: `test package ${name}`,
    node: { requires: '>=20' },
    adapters: [{ name: 'main', entrypoint: 'adapters/main.js', capabilities: nodes.map((n) => `${name}.${n.handler}`) }],
    nodes: nodes.map((n) => ({
      type: `${name}.${n.handler}`,
      status: 'published',
      category: 'Tests',
      label: n.handler,
      description: n.handler,
      adapter: 'main',
      handler: n.handler,
      config: n.execMode ? { exec_mode: n.execMode } : {},
      schema: true,
    })),
  };
  await writeFile(join(root, 'manifest.json'), JSON.stringify(manifest, null, 2));
  await writeFile(join(root, 'package.json'), '{"type":"module"}\n');
  await writeFile(join(root, 'adapters', 'main.js'), [prelude, ...nodes.map((n) => `export ${n.source}`)].join('\n'));
  return root;
}

/** Packs a package folder as `<out>/<name>.tgz` (one `package/` folder, like `npm pack`); returns the file name and sha256. */
export async function packPackage(root: string, out: string, name: string): Promise<{ file: string; sha256: string }> {
  const file = `${name}.tgz`;
  await tar.c({ file: join(out, file), cwd: root, gzip: true, portable: true, prefix: 'package' }, await listFiles(root));
  return {
    file,
    sha256: createHash('sha256')
      .update(await readFile(join(out, file)))
      .digest('hex'),
  };
}

/**
 * A gzip bomb: the package at `root` as a valid tar, followed by `zeroMiB`
 * MiB of zeros inside the same gzip stream (about 1 KiB per MiB on disk).
 */
export async function packBomb(
  root: string,
  out: string,
  name: string,
  zeroMiB: number,
): Promise<{ file: string; sha256: string }> {
  const tarFile = join(out, `${name}.tar`);
  await tar.c({ file: tarFile, cwd: root, portable: true, prefix: 'package' }, await listFiles(root));
  const file = `${name}.tgz`;
  const gzip = createGzip({ level: 9 });
  const sink = createWriteStream(join(out, file));
  gzip.pipe(sink);
  gzip.write(await readFile(tarFile));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < zeroMiB; i += 1) {
    if (!gzip.write(zeros)) await once(gzip, 'drain');
  }
  gzip.end();
  await once(sink, 'close');
  return {
    file,
    sha256: createHash('sha256')
      .update(await readFile(join(out, file)))
      .digest('hex'),
  };
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
    else out.push(path);
  }
  return out.sort();
}

/** Every path under `dir` (folders end in `/`), sorted: equal lists mean nothing was added or removed. */
export async function treeOf(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) out.push(`${path}/`, ...(await treeOf(dir, path)));
    else out.push(path);
  }
  return out.sort();
}

/** Largest gap between consecutive heartbeat timestamps (ms) within [from, to]. */
export function largestGap(timestamps: readonly number[], from: number, to: number): number {
  const inside = timestamps.filter((t) => t >= from && t <= to);
  let largest = 0;
  for (let i = 1; i < inside.length; i += 1) largest = Math.max(largest, inside[i]! - inside[i - 1]!);
  // The edges count too: a loop blocked from `from` on sends nothing inside the window.
  if (inside.length > 0) largest = Math.max(largest, inside[0]! - from, to - inside.at(-1)!);
  else largest = to - from;
  return largest;
}
