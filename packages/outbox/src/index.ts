export { createFaultInjectingStore, type FaultInjectingStore } from './fault-injecting-store.js';
export { JOURNAL_FILE, createJournalStore, type JournalStoreOptions } from './journal-store.js';
export { OutboxErrorCode } from './outbox-errors.js';
export type { FsyncPolicy, OutboxRecord, OutboxStore, OutboxStoreStats, PutOptions } from './outbox-store.js';
