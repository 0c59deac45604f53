import { crc32 } from 'node:zlib';
import type { OutboxRecord } from './outbox-store.js';

/** One journal operation. */
export type JournalOp = { op: 'put'; record: OutboxRecord; replaces?: readonly string[] } | { op: 'del'; key: string };

/** Bytes before each body: u32 LE body length, u32 LE CRC-32 of the body. */
export const HEADER_BYTES = 8;
/** No single record may claim more than this (a corrupt length must not make us allocate gigabytes). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** Encodes one operation as a self-checking journal record. */
export function encodeOp(op: JournalOp): Buffer {
  // The body is encoded straight into the record (one buffer per record, not two and a copy).
  const text = JSON.stringify(op);
  const length = Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + length);
  out.write(text, HEADER_BYTES, 'utf8');
  out.writeUInt32LE(length, 0);
  out.writeUInt32LE(crc32(out.subarray(HEADER_BYTES)), 4);
  return out;
}

/** What {@link decodeJournal} made of a file. */
export interface DecodedJournal {
  ops: JournalOp[];
  /** Bytes of intact records from the start; the rest is a torn tail to cut off. */
  goodBytes: number;
  /** Set when a damaged record is followed by more data: not a torn tail, real corruption. */
  corrupt?: string;
}

/**
 * Reads records until the first one that is incomplete or fails its
 * checksum. A crash can only tear the last write, so a bad record that runs
 * to the end of the file (or is followed by zeros only) is a torn tail;
 * anything else is corruption.
 */
export function decodeJournal(buf: Buffer): DecodedJournal {
  const ops: JournalOp[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const bad = (why: string): DecodedJournal =>
      isTornTail(buf, offset) ? { ops, goodBytes: offset } : { ops, goodBytes: offset, corrupt: `${why} at byte ${offset}` };
    if (buf.length - offset < HEADER_BYTES) return bad('short header');
    const length = buf.readUInt32LE(offset);
    const sum = buf.readUInt32LE(offset + 4);
    if (length === 0 || length > MAX_RECORD_BYTES) return bad(`impossible record length ${length}`);
    const end = offset + HEADER_BYTES + length;
    if (end > buf.length) return { ops, goodBytes: offset };
    const body = buf.subarray(offset + HEADER_BYTES, end);
    if (crc32(body) !== sum) return bad('checksum mismatch');
    let op: JournalOp;
    try {
      op = JSON.parse(body.toString('utf8')) as JournalOp;
    } catch {
      return { ops, goodBytes: offset, corrupt: `unparsable record at byte ${offset}` };
    }
    if (!isOp(op)) return { ops, goodBytes: offset, corrupt: `unknown operation at byte ${offset}` };
    ops.push(op);
    offset = end;
  }
  return { ops, goodBytes: offset };
}

function isTornTail(buf: Buffer, offset: number): boolean {
  if (buf.length - offset < HEADER_BYTES) return true;
  const length = buf.readUInt32LE(offset);
  if (length > 0 && length <= MAX_RECORD_BYTES && offset + HEADER_BYTES + length >= buf.length) return true;
  // File systems may leave a zero-filled tail after a crash.
  for (let i = offset; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

function isOp(value: unknown): value is JournalOp {
  if (typeof value !== 'object' || value === null) return false;
  const op = value as Record<string, unknown>;
  if (op.op === 'del') return typeof op.key === 'string';
  if (op.op !== 'put' || typeof op.record !== 'object' || op.record === null) return false;
  const record = op.record as Record<string, unknown>;
  return typeof record.key === 'string' && typeof record.kind === 'string' && typeof record.at === 'number';
}
