import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createThreadExtractor, extractInThread } from './extract-in-thread.js';
import { removeDir, tempDir } from './fixtures.test-util.js';
import { rawTar } from './raw-tar.test-util.js';

const MiB = 1024 * 1024;
let base: string;
let dest: string;

beforeEach(async () => {
  base = await tempDir('thread-extract');
  dest = join(base, 'dest');
  await mkdir(dest);
});

afterEach(async () => {
  await removeDir(base);
});

async function archive(bytes: Buffer): Promise<string> {
  const file = join(base, 'archive.tgz');
  await writeFile(file, bytes);
  return file;
}

describe('extractInThread', () => {
  it('accepts a highly compressible file within the byte limit (no ratio guard)', async () => {
    const file = await archive(gzipSync(rawTar([{ path: 'package/zeros.bin', body: Buffer.alloc(32 * MiB) }]), { level: 9 }));
    expect((await stat(file)).size).toBeLessThan(64 * 1024);
    const result = await extractInThread(file, dest, { maxEntries: 10, maxExtractedBytes: 64 * MiB, timeoutMs: 30_000 });
    expect(result).toEqual({ entries: 1, bytes: 32 * MiB });
    expect((await stat(join(dest, 'package', 'zeros.bin'))).size).toBe(32 * MiB);
  });

  it('refuses a valid archive followed by a flood of zeros once the stream passes the byte limit', async () => {
    const tar = rawTar([{ path: 'package/a.txt', body: 'a' }]);
    const file = await archive(gzipSync(Buffer.concat([tar, Buffer.alloc(256 * MiB)]), { level: 9 }));
    await expect(
      extractInThread(file, dest, { maxEntries: 10, maxExtractedBytes: 16 * MiB, timeoutMs: 30_000 }),
    ).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringMatching(/unpacks to more than|after its end-of-archive marker/),
    });
  });

  it('refuses more than 1 MiB of data after the end-of-archive marker even within the byte limit', async () => {
    const tar = rawTar([{ path: 'package/a.txt', body: 'a' }]);
    const file = await archive(gzipSync(Buffer.concat([tar, Buffer.alloc(4 * MiB)])));
    await expect(
      extractInThread(file, dest, { maxEntries: 10, maxExtractedBytes: 64 * MiB, timeoutMs: 30_000 }),
    ).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      details: { reason: 'trailing_data' },
    });
  });

  it('stops at the wall-time limit', async () => {
    const file = await archive(gzipSync(rawTar([{ path: 'package/zeros.bin', body: Buffer.alloc(64 * MiB) }])));
    await expect(
      extractInThread(file, dest, { maxEntries: 10, maxExtractedBytes: 128 * MiB, timeoutMs: 1 }),
    ).rejects.toMatchObject({
      code: 'E.PKG.INVALID',
      details: { reason: 'timeout', timeout_ms: 1 },
    });
  });

  it('serves installs one after another from a kept thread, and recovers after a timeout terminated it', async () => {
    const extractor = createThreadExtractor();
    try {
      const small = await archive(gzipSync(rawTar([{ path: 'package/a.txt', body: 'a' }])));
      const limits = { maxEntries: 10, maxExtractedBytes: MiB, timeoutMs: 30_000 };
      for (const name of ['one', 'two']) {
        await mkdir(join(base, name));
        await expect(extractor.extract(small, join(base, name), limits)).resolves.toEqual({ entries: 1, bytes: 1 });
      }
      const big = join(base, 'big.tgz');
      await writeFile(big, gzipSync(rawTar([{ path: 'package/zeros.bin', body: Buffer.alloc(64 * MiB) }])));
      await mkdir(join(base, 'three'));
      await expect(
        extractor.extract(big, join(base, 'three'), { ...limits, maxExtractedBytes: 128 * MiB, timeoutMs: 1 }),
      ).rejects.toMatchObject({
        details: { reason: 'timeout' },
      });
      await mkdir(join(base, 'four'));
      await expect(extractor.extract(small, join(base, 'four'), limits)).resolves.toEqual({ entries: 1, bytes: 1 });
    } finally {
      await extractor.close();
    }
  });
});
