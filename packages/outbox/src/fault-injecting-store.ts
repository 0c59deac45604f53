import { ioError } from './outbox-errors.js';
import type { OutboxRecord, OutboxStore, OutboxStoreStats, PutOptions } from './outbox-store.js';

/** An {@link OutboxStore} whose writes can be made to fail, for tests of disk-full and disk-error handling. */
export interface FaultInjectingStore extends OutboxStore {
  /** From now on every put and delete fails with this errno (`ENOSPC`, `EIO`, ...); `undefined` heals the disk. */
  fail(errno: string | undefined): void;
  /** Writes refused so far. */
  readonly refused: number;
}

/**
 * Wraps a real store so that tests can simulate a full or failing disk
 * without one: while a fault is set, writes reject exactly as the journal
 * does for that errno (`E.OUTBOX.IO`, `details.errno`) and change nothing.
 *
 * @example
 * ```ts
 * const store = createFaultInjectingStore(await createJournalStore({ dir }));
 * store.fail('ENOSPC');
 * ```
 */
export function createFaultInjectingStore(inner: OutboxStore): FaultInjectingStore {
  let errno: string | undefined;
  let refused = 0;
  const check = (what: string): void => {
    if (errno === undefined) return;
    refused++;
    const cause = Object.assign(new Error(`${errno}: injected fault, ${what}`), { code: errno });
    throw ioError('write', cause);
  };
  return {
    get recovered(): readonly OutboxRecord[] {
      return inner.recovered;
    },
    get refused(): number {
      return refused;
    },
    fail(next: string | undefined): void {
      errno = next;
    },
    async put(record: OutboxRecord, options?: PutOptions): Promise<void> {
      check(`put ${record.key}`);
      await inner.put(record, options);
    },
    async delete(key: string): Promise<void> {
      check(`delete ${key}`);
      await inner.delete(key);
    },
    has: (key: string): boolean => inner.has(key),
    stats: (): OutboxStoreStats => inner.stats(),
    close: (): Promise<void> => inner.close(),
  };
}
