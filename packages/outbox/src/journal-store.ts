import { writeSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AstraError, createNoopLogger, type Logger } from '@astraflow/protocol';
import { decodeJournal, encodeOp, type JournalOp } from './journal-codec.js';
import { OutboxErrorCode, ioError } from './outbox-errors.js';
import type { FsyncPolicy, OutboxRecord, OutboxStore, OutboxStoreStats, PutOptions } from './outbox-store.js';

/** Options of {@link createJournalStore}. */
export interface JournalStoreOptions {
  /** Folder of the journal; created if missing. One store per folder. */
  dir: string;
  /**
   * Default `batch`: a write is handed to the OS at once (a killed process
   * loses nothing it was told is stored) and flushed to the disk together
   * with every other write of the next few ms (group commit), so a power cut
   * can lose only those last ms. `always`: each write waits for its own
   * fdatasync. `off`: the OS flushes when it likes.
   */
  fsync?: FsyncPolicy;
  /** Group-commit delay of `batch`, in ms. Default 5. */
  batchMs?: number;
  /** Most bytes of live records; a put beyond it rejects with `E.OUTBOX.FULL`. Default 256 MiB. */
  maxBytes?: number;
  logger?: Logger;
}

/** File name of the journal inside its folder. */
export const JOURNAL_FILE = 'journal.log';
/** The journal is rewritten with live records only once it is this big and mostly dead. */
const COMPACT_MIN_BYTES = 4 * 1024 * 1024;

interface Live {
  record: OutboxRecord;
  bytes: number;
}

interface Pending {
  op: JournalOp;
  buf: Buffer;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Opens (or creates) an append-only journal in `options.dir`: every put and
 * delete is one checksummed record, appended and flushed according to the
 * fsync policy promises before its promise resolves. On open the journal is replayed;
 * a torn last record (crash mid-write) is cut off, while damage anywhere else
 * puts the file aside as `journal.log.corrupt-<time>` and starts empty, with
 * an error log. It never throws: a folder that cannot be opened gives a
 * store whose writes reject with `E.OUTBOX.IO`.
 *
 * @example
 * ```ts
 * const store = await createJournalStore({ dir: '/var/lib/astraflow/outbox' });
 * for (const record of store.recovered) resend(record);
 * await store.put({ key: 'a:1', kind: 'answer', at: Date.now(), data: frame });
 * await store.delete('a:1');
 * ```
 */
export async function createJournalStore(options: JournalStoreOptions): Promise<OutboxStore> {
  const log = (options.logger ?? createNoopLogger()).child({ component: 'outbox' });
  const path = join(options.dir, JOURNAL_FILE);
  const live = new Map<string, Live>();
  let size = 0;
  try {
    await mkdir(options.dir, { recursive: true });
    let buf: Buffer | undefined;
    try {
      buf = await readFile(path);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') await quarantine(path, `unreadable: ${(err as Error).message}`, log);
    }
    if (buf) {
      const decoded = decodeJournal(buf);
      if (decoded.corrupt) {
        await quarantine(path, decoded.corrupt, log);
      } else {
        for (const op of decoded.ops) apply(live, op, encodeOp(op).length);
        size = decoded.goodBytes;
        if (decoded.goodBytes < buf.length) {
          log.warn({ path, cut_bytes: buf.length - decoded.goodBytes }, 'outbox journal had a torn last write; cut it off');
        }
      }
    }
    const store = new JournalStore(path, options, log, live, size);
    await store.openFile(size);
    return store;
  } catch (err) {
    const error = ioError('open', err);
    log.error({ err: error.message, path }, 'OUTBOX UNUSABLE: cannot open the outbox journal; answers are kept in memory only');
    return new JournalStore(path, options, log, new Map(), 0, error);
  }
}

async function quarantine(path: string, why: string, log: Logger): Promise<void> {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await rename(path, aside);
  log.error({ path, moved_to: aside, why }, 'OUTBOX CORRUPT: journal put aside, starting with an empty outbox');
}

function apply(live: Map<string, Live>, op: JournalOp, bytes: number): void {
  if (op.op === 'del') {
    live.delete(op.key);
    return;
  }
  for (const key of op.replaces ?? []) live.delete(key);
  live.set(op.record.key, { record: op.record, bytes });
}

class JournalStore implements OutboxStore {
  readonly recovered: readonly OutboxRecord[];
  readonly #path: string;
  readonly #dir: string;
  readonly #policy: FsyncPolicy;
  readonly #maxBytes: number;
  readonly #log: Logger;
  readonly #live: Map<string, Live>;
  #liveBytes = 0;
  #size: number;
  #fh: FileHandle | undefined;
  #broken: AstraError | undefined;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #flushing: Promise<void> | undefined;
  #closed = false;
  #compactAt = COMPACT_MIN_BYTES;
  readonly #batchMs: number;
  #syncTimer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  /** Set when a group fdatasync failed: writes fail until a flush succeeds again. */
  #syncError: AstraError | undefined;

  constructor(
    path: string,
    options: JournalStoreOptions,
    log: Logger,
    live: Map<string, Live>,
    size: number,
    broken?: AstraError,
  ) {
    this.#path = path;
    this.#dir = options.dir;
    this.#policy = options.fsync ?? 'batch';
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#batchMs = Math.min(Math.max(options.batchMs ?? 5, 0), 1000);
    this.#log = log;
    this.#live = live;
    this.#size = size;
    this.#broken = broken;
    for (const entry of live.values()) this.#liveBytes += entry.bytes;
    this.recovered = [...live.values()].map((entry) => entry.record);
  }

  /** @internal */
  async openFile(size: number): Promise<void> {
    const fh = await open(this.#path, 'a');
    // Cuts a torn tail; a no-op otherwise.
    await fh.truncate(size);
    this.#fh = fh;
    if (size > COMPACT_MIN_BYTES && size > 2 * this.#liveBytes) await this.#compact();
  }

  put(record: OutboxRecord, options: PutOptions = {}): Promise<void> {
    const op: JournalOp = options.replaces?.length ? { op: 'put', record, replaces: options.replaces } : { op: 'put', record };
    const buf = encodeOp(op);
    const existing = this.#live.get(record.key)?.bytes ?? 0;
    if (this.#liveBytes + this.#queuedBytes + buf.length - existing > this.#maxBytes) {
      return Promise.reject(
        new AstraError(
          OutboxErrorCode.FULL,
          `outbox full: ${this.#liveBytes + this.#queuedBytes} of ${this.#maxBytes} bytes in use`,
          {
            details: { bytes: this.#liveBytes + this.#queuedBytes, max_bytes: this.#maxBytes },
          },
        ),
      );
    }
    return this.#enqueue(op, buf, buf.length);
  }

  delete(key: string): Promise<void> {
    if (!this.#live.has(key) && !this.#queue.some((p) => p.op.op === 'put' && p.op.record.key === key)) return Promise.resolve();
    const op: JournalOp = { op: 'del', key };
    return this.#enqueue(op, encodeOp(op), 0);
  }

  has(key: string): boolean {
    return this.#live.has(key);
  }

  stats(): OutboxStoreStats {
    const first = this.#live.values().next();
    return { records: this.#live.size, bytes: this.#liveBytes, oldestAt: first.done ? undefined : first.value.record.at };
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing) await this.#flushing;
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    await this.#syncing;
    if (this.#policy === 'batch') await this.#fh?.datasync().catch(() => {});
    await this.#fh?.close().catch(() => {});
    this.#fh = undefined;
  }

  #enqueue(op: JournalOp, buf: Buffer, accounted: number): Promise<void> {
    if (this.#closed) return Promise.reject(new AstraError(OutboxErrorCode.IO, 'outbox closed'));
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ op, buf, resolve, reject });
      this.#queuedBytes += accounted;
      // setImmediate gathers every write of this turn of the event loop into one group.
      this.#flushing ??= new Promise<void>((done) => setImmediate(() => void this.#drain().finally(done)));
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#policy === 'always' ? this.#queue.splice(0, 1) : this.#queue.splice(0);
        await this.#write(batch);
        if (this.#size > this.#compactAt && this.#size > 2 * this.#liveBytes) await this.#compact();
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #write(batch: Pending[]): Promise<void> {
    const data = batch.length === 1 ? (batch[0] as Pending).buf : Buffer.concat(batch.map((p) => p.buf));
    for (const p of batch) if (p.op.op === 'put') this.#queuedBytes -= p.buf.length;
    const fh = this.#fh;
    try {
      if (!fh) throw new Error('journal not open');
      if (this.#syncError) {
        // Before more writes are reported stored, the disk must take a flush again.
        await fh.datasync();
        this.#syncError = undefined;
        this.#log.warn('outbox journal flushes work again');
      }
      let written = 0;
      while (written < data.length) {
        // An append of one group to the page cache takes microseconds; a round trip through the
        // libuv thread pool (shared with the flush) would add its queueing delay to every answer.
        written +=
          this.#policy === 'always'
            ? (await fh.write(data, written, data.length - written)).bytesWritten
            : writeSync(fh.fd, data, written, data.length - written);
      }
      if (this.#policy === 'always') await fh.datasync();
    } catch (err) {
      // A partial record must not stay in the middle of the journal: cut back to the last good byte.
      await fh?.truncate(this.#size).catch((cutErr: unknown) => {
        this.#broken = ioError('truncate after a failed write', cutErr);
        this.#log.error({ err: this.#broken.message }, 'OUTBOX UNUSABLE: cannot repair the journal after a failed write');
      });
      const error = ioError('write', err);
      for (const p of batch) p.reject(error);
      return;
    }
    this.#size += data.length;
    for (const p of batch) {
      if (p.op.op === 'put') {
        const before = this.#live.get(p.op.record.key)?.bytes ?? 0;
        let removed = before;
        for (const key of p.op.replaces ?? []) if (key !== p.op.record.key) removed += this.#live.get(key)?.bytes ?? 0;
        apply(this.#live, p.op, p.buf.length);
        this.#liveBytes += p.buf.length - removed;
      } else {
        this.#liveBytes -= this.#live.get(p.op.key)?.bytes ?? 0;
        apply(this.#live, p.op, 0);
      }
      p.resolve();
    }
    if (this.#policy === 'batch') this.#syncTimer ??= setTimeout(() => this.#groupSync(), this.#batchMs);
  }

  /** The group commit of `batch`: one fdatasync for everything written in the last few ms. */
  #groupSync(): void {
    this.#syncTimer = undefined;
    const fh = this.#fh;
    if (!fh) return;
    this.#syncing = fh.datasync().then(
      () => {
        this.#syncing = undefined;
      },
      (err: unknown) => {
        this.#syncing = undefined;
        this.#syncError = ioError('flush', err);
        this.#log.error(
          { err: this.#syncError.message },
          'OUTBOX FLUSH FAILED: the disk did not take the last writes; refusing writes until it does',
        );
      },
    );
  }

  /** Rewrites the journal with live records only: written aside, flushed, then renamed over it (atomic). */
  async #compact(): Promise<void> {
    const tmp = `${this.#path}.compact`;
    try {
      const parts = [...this.#live.values()].map((entry) => encodeOp({ op: 'put', record: entry.record }));
      const data = Buffer.concat(parts);
      const out = await open(tmp, 'w');
      try {
        await out.writeFile(data);
        await out.datasync();
      } finally {
        await out.close();
      }
      await rename(tmp, this.#path);
      const dir = await open(this.#dir, 'r');
      await dir.sync().finally(() => dir.close());
      await this.#fh?.close();
      this.#fh = await open(this.#path, 'a');
      this.#size = data.length;
      for (const [i, entry] of [...this.#live.values()].entries()) entry.bytes = (parts[i] as Buffer).length;
      this.#liveBytes = data.length;
      this.#compactAt = Math.max(COMPACT_MIN_BYTES, 2 * data.length);
    } catch (err) {
      // The old journal is still whole; try again once it has grown further.
      this.#compactAt = this.#size * 2;
      await rm(tmp, { force: true }).catch(() => {});
      this.#log.warn({ err: (err as Error).message }, 'outbox compaction failed; keeping the journal as it is');
    }
  }
}
