import { gzipSync } from 'node:zlib';

/** One entry of a hand-made tar archive. */
export interface RawEntry {
  path: string;
  /** '0' file (default), '1' hard link, '2' symlink, '3' char device, '4' block device, '5' directory, '6' FIFO, or any byte. */
  type?: string;
  body?: string | Buffer;
  linkpath?: string;
  mode?: number;
  /** Header size field, when it should lie about the body (defaults to the body length). */
  size?: number;
}

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  writeString(buf, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

/**
 * A 512-byte ustar header written byte by byte, so that no tar library can
 * normalise or sanitise what the test wants to send (`..`, absolute paths, links, devices).
 */
export function rawTarHeader(entry: RawEntry, size: number): Buffer {
  const header = Buffer.alloc(512);
  writeString(header, 0, 100, entry.path);
  const type = entry.type ?? '0';
  writeOctal(header, 100, 8, entry.mode ?? (type === '5' ? 0o755 : 0o644));
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, 946684800);
  header.fill(' ', 148, 156);
  writeString(header, 156, 1, type);
  if (entry.linkpath !== undefined) writeString(header, 157, 100, entry.linkpath);
  writeString(header, 257, 6, 'ustar\0');
  writeString(header, 263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** A complete uncompressed tar of `entries`, ended by two zero blocks. */
export function rawTar(entries: readonly RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
    blocks.push(rawTarHeader(entry, entry.size ?? body.length));
    if (body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** {@link rawTar}, gzipped. */
export function rawTgz(entries: readonly RawEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}
