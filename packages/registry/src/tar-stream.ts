import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AstraError, ErrorCode } from '@astraflow/protocol';

/** Data after the end-of-archive marker tolerated before the archive is refused (GNU tar pads to 10 KiB records). */
export const MAX_TRAILING_BYTES = 1024 * 1024;

/**
 * Most bytes the decompressed tar stream may have for `maxExtractedBytes` of
 * file content: the content plus 1 KiB of header and padding per entry (at
 * most 64 MiB of it) and 1 MiB for end records and trailing padding.
 */
export function maxTarBytes(maxExtractedBytes: number, maxEntries: number): number {
  return maxExtractedBytes + Math.min(maxEntries * 1024, 64 * 1024 * 1024) + MAX_TRAILING_BYTES;
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * The archive as a plain tar byte stream: gunzipped here in streaming
 * chunks (tar's own inflater buffers and has a ratio guard that refuses
 * legitimate, highly compressible files), and cut off with an
 * `E.PKG.INVALID` error once it grows past `maxBytes`.
 */
export async function openTarStream(archiveFile: string, maxBytes: number): Promise<Readable> {
  const gzip = await isGzip(archiveFile);
  let total = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      if (total > maxBytes) {
        callback(
          new AstraError(ErrorCode.PKG_INVALID, `archive unpacks to more than ${maxBytes} bytes`, {
            details: { reason: 'too_large' },
          }),
        );
      } else {
        callback(null, chunk);
      }
    },
  });
  const source = createReadStream(archiveFile);
  // Errors end up on `limit` (pipeline destroys every stage with the first error); the callback only silences them here.
  if (gzip) pipeline(source, createGunzip(), limit, () => undefined);
  else pipeline(source, limit, () => undefined);
  return limit;
}
