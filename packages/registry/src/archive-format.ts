import { open } from 'node:fs/promises';
import { AstraError, ErrorCode } from '@astraflow/protocol';

/** Archive formats a package may come in. */
export type ArchiveFormat = 'tar' | 'tar.gz';

const startsWith = (buf: Buffer, bytes: readonly number[]): boolean => bytes.every((b, i) => buf[i] === b);

/**
 * Names the archive format from its first bytes (never from the URL): gzip
 * (`1f 8b`) or a ustar header (`ustar` at offset 257). Zip and the other
 * compressors get an `E.PKG.INVALID` that names them.
 */
export function detectArchiveFormatFromBytes(head: Buffer): ArchiveFormat {
  if (head.length === 0) throw new AstraError(ErrorCode.PKG_INVALID, 'archive is empty');
  if (startsWith(head, [0x1f, 0x8b])) return 'tar.gz';
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  let named: string | undefined;
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) {
    throw new AstraError(ErrorCode.PKG_INVALID, 'zip archives are not supported; use .tar.gz');
  }
  if (startsWith(head, [0x42, 0x5a, 0x68])) named = 'bzip2';
  else if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) named = 'xz';
  else if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) named = 'zstd';
  else if (startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) named = '7z';
  if (named !== undefined) {
    throw new AstraError(ErrorCode.PKG_INVALID, `${named} archives are not supported; use .tar.gz`);
  }
  throw new AstraError(ErrorCode.PKG_INVALID, 'unrecognised archive format (expected .tar.gz, .tgz or .tar)');
}

/** {@link detectArchiveFormatFromBytes} on the first 512 bytes of a file. */
export async function detectArchiveFormat(file: string): Promise<ArchiveFormat> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return detectArchiveFormatFromBytes(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
