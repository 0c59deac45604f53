import { mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractArchive } from './extract-archive.js';
import { removeDir, snapshotTree, tempDir } from './fixtures.test-util.js';
import { rawTar, rawTgz, type RawEntry } from './raw-tar.test-util.js';

let base: string;
let dest: string;
const limits = { maxEntries: 100, maxExtractedBytes: 1024 * 1024 };

beforeEach(async () => {
  base = await tempDir('extract');
  dest = join(base, 'work', 'dest');
  await mkdir(dest, { recursive: true });
});

afterEach(async () => {
  await removeDir(base);
});

async function writeArchive(entries: readonly RawEntry[], gzip = true): Promise<string> {
  const archive = join(base, 'work', 'archive');
  await writeFile(archive, gzip ? rawTgz(entries) : rawTar(entries));
  return archive;
}

async function extract(entries: readonly RawEntry[], gzip = true, custom = limits): Promise<unknown> {
  return extractArchive(await writeArchive(entries, gzip), dest, custom);
}

/** Everything outside `dest`: a rejected archive must not have written there. */
async function outside(): Promise<string[]> {
  return (await snapshotTree(base)).filter((line) => !line.includes('work/dest'));
}

describe('extractArchive', () => {
  it('extracts files, folders and in-package links from .tar.gz and .tar', async () => {
    const entries: RawEntry[] = [
      { path: 'package/', type: '5' },
      { path: 'package/manifest.json', body: '{}' },
      { path: 'package/lib/a.js', body: 'a' },
      { path: 'package/lib/alias.js', type: '2', linkpath: 'a.js' },
      { path: 'package/lib/hard.js', type: '1', linkpath: 'package/lib/a.js' },
    ];
    await expect(extract(entries)).resolves.toEqual({ entries: 5, bytes: 3 });
    expect(await readFile(join(dest, 'package', 'lib', 'hard.js'), 'utf8')).toBe('a');
    expect(await readlink(join(dest, 'package', 'lib', 'alias.js'))).toBe('a.js');
    await removeDir(dest);
    await mkdir(dest);
    await expect(extract(entries, false)).resolves.toEqual({ entries: 5, bytes: 3 });
  });

  it('normalises harmless "./" prefixes', async () => {
    await extract([
      { path: './', type: '5' },
      { path: './package/./manifest.json', body: '{}' },
    ]);
    expect(await readFile(join(dest, 'package', 'manifest.json'), 'utf8')).toBe('{}');
  });

  const rejected: Array<[string, RawEntry[], string, RegExp]> = [
    [
      'a ".." path',
      [
        { path: 'package/ok.js', body: 'x' },
        { path: 'package/../../../evil.js', body: 'x' },
      ],
      'E.PKG.PERMISSION',
      /\.\./,
    ],
    ['an absolute path', [{ path: '/tmp/evil.js', body: 'x' }], 'E.PKG.PERMISSION', /absolute/],
    [
      'a symlink leaving the folder',
      [{ path: 'package/link', type: '2', linkpath: '../../../../etc' }],
      'E.PKG.PERMISSION',
      /symlink/,
    ],
    ['an absolute symlink', [{ path: 'package/link', type: '2', linkpath: '/etc/passwd' }], 'E.PKG.PERMISSION', /symlink/],
    [
      'a write through an in-archive symlink',
      [
        { path: 'package/dir', type: '2', linkpath: '.' },
        { path: 'package/dir/file.js', body: 'x' },
      ],
      'E.PKG.PERMISSION',
      /through the symlink/,
    ],
    [
      'a hard link to a file outside',
      [{ path: 'package/h', type: '1', linkpath: '../../etc/passwd' }],
      'E.PKG.PERMISSION',
      /hard link/,
    ],
    [
      'a hard link to an unknown path',
      [{ path: 'package/h', type: '1', linkpath: 'etc/passwd' }],
      'E.PKG.PERMISSION',
      /hard link/,
    ],
    ['a character device', [{ path: 'package/tty', type: '3' }], 'E.PKG.PERMISSION', /device/],
    ['a FIFO', [{ path: 'package/pipe', type: '6' }], 'E.PKG.PERMISSION', /FIFO/],
    ['an unknown entry type', [{ path: 'package/x', type: 'Z', body: 'x' }], 'E.PKG.INVALID', /unsupported/],
  ];

  for (const [label, entries, code, message] of rejected) {
    it(`rejects the whole archive for ${label}`, async () => {
      const archive = await writeArchive(entries);
      const before = await outside();
      await expect(extractArchive(archive, dest, limits)).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
      expect(await outside()).toEqual(before);
    });
  }

  it('rejects symlink chains that only escape once resolved', async () => {
    // Each link looks harmless on its own; together `up` points above the package.
    const entries: RawEntry[] = [
      { path: 'p/sub/', type: '5' },
      { path: 'p/sub/deep', type: '2', linkpath: '..' },
      { path: 'p/l', type: '2', linkpath: 'sub/deep' },
      { path: 'p/up', type: '2', linkpath: 'l/..' },
    ];
    await expect(extract(entries)).rejects.toMatchObject({ code: 'E.PKG.PERMISSION' });
  });

  it('stops archive bombs: too many entries, too many bytes', async () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ path: `package/f${i}`, body: 'x' }));
    await expect(extract(many, true, { maxEntries: 10, maxExtractedBytes: 1e6 })).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: 'archive has more than 10 entries',
    });
    await removeDir(dest);
    await mkdir(dest);
    const big = [{ path: 'package/big', body: Buffer.alloc(4096) }];
    await expect(extract(big, true, { maxEntries: 10, maxExtractedBytes: 1000 })).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: 'archive unpacks to more than 1000 bytes',
    });
  });

  it('reports corrupt data as E.PKG.INVALID', async () => {
    const archive = join(base, 'work', 'archive');
    const good = rawTgz([{ path: 'package/a', body: 'a'.repeat(5000) }]);
    await writeFile(archive, good.subarray(0, good.length - 20));
    await expect(extractArchive(archive, dest, limits)).rejects.toMatchObject({ code: 'E.PKG.INVALID' });
  });
});
