/** When a write counts as stored (the `outbox_fsync` setting). */
export type FsyncPolicy = 'always' | 'batch' | 'off';

/** One stored entry. `data` must be JSON-safe; `at` is the time it was first stored (ms since the epoch). */
export interface OutboxRecord {
  key: string;
  kind: string;
  at: number;
  data: unknown;
}

/** Options of {@link OutboxStore.put}. */
export interface PutOptions {
  /** Keys removed in the same atomic write (e.g. the dispatch an answer settles). */
  replaces?: readonly string[];
}

/** Size gauges of a store. */
export interface OutboxStoreStats {
  /** Live records. */
  records: number;
  /** Bytes of live records, as encoded. */
  bytes: number;
  /** `at` of the oldest live record, if any. */
  oldestAt: number | undefined;
}

/**
 * A crash-safe keyed store of pending records. `put` and `delete` resolve
 * once the write is as durable as the fsync policy promises, and reject with
 * an `AstraError` (`E.OUTBOX.FULL` past the size bound, `E.OUTBOX.IO` on a
 * disk failure such as ENOSPC or EIO) without changing what is stored.
 * Implementations: {@link createJournalStore}; tests may wrap one with
 * {@link createFaultInjectingStore}.
 */
export interface OutboxStore {
  /** Records found when the store was opened, oldest first. */
  readonly recovered: readonly OutboxRecord[];
  /** Stores (or replaces) `record.key`, removing `options.replaces` in the same write. */
  put(record: OutboxRecord, options?: PutOptions): Promise<void>;
  /** Removes `key`; removing a missing key is a no-op. */
  delete(key: string): Promise<void>;
  /** True when `key` is live. */
  has(key: string): boolean;
  stats(): OutboxStoreStats;
  /** Flushes what is queued and closes; later writes reject. */
  close(): Promise<void>;
}
