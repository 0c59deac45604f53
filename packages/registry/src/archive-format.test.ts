import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { detectArchiveFormatFromBytes } from './archive-format.js';
import { rawTar } from './raw-tar.test-util.js';

const codeOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  return undefined;
};

describe('detectArchiveFormatFromBytes', () => {
  it('recognises gzip and plain ustar by their bytes', () => {
    const tar = rawTar([{ path: 'a.txt', body: 'x' }]);
    expect(detectArchiveFormatFromBytes(tar)).toBe('tar');
    expect(detectArchiveFormatFromBytes(gzipSync(tar))).toBe('tar.gz');
  });

  it('names zip and other formats in E.PKG.INVALID', () => {
    expect(codeOf(() => detectArchiveFormatFromBytes(Buffer.from('PK\x03\x04rest', 'latin1')))).toEqual({
      code: 'E.PKG.INVALID',
      message: 'zip archives are not supported; use .tar.gz',
    });
    expect(codeOf(() => detectArchiveFormatFromBytes(Buffer.from('BZh91AY', 'latin1')))).toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringContaining('bzip2'),
    });
    expect(codeOf(() => detectArchiveFormatFromBytes(Buffer.from('hello world')))).toMatchObject({
      code: 'E.PKG.INVALID',
      message: expect.stringContaining('unrecognised archive format'),
    });
    expect(codeOf(() => detectArchiveFormatFromBytes(Buffer.alloc(0)))).toMatchObject({ code: 'E.PKG.INVALID' });
  });
});
