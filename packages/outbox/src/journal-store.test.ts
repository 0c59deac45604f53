import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AstraError } from '@astraflow/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createFaultInjectingStore } from './fault-injecting-store.js';
import { encodeOp } from './journal-codec.js';
import { JOURNAL_FILE, createJournalStore } from './journal-store.js';
import type { OutboxRecord } from './outbox-store.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'astra-outbox-'));
  dirs.push(dir);
  return dir;
}
const rec = (key: string, data: unknown = { n: key }): OutboxRecord => ({ key, kind: 'answer', at: Date.now(), data });

describe('createJournalStore', () => {
  it('keeps what was put and not deleted across a reopen, oldest first', async () => {
    const dir = await scratch();
    const store = await createJournalStore({ dir });
    await Promise.all([store.put(rec('a')), store.put(rec('b')), store.put(rec('c'))]);
    await store.delete('b');
    await store.put(rec('d'), { replaces: ['a'] });
    expect(store.stats().records).toBe(2);
    await store.close();
    const again = await createJournalStore({ dir });
    expect(again.recovered.map((r) => r.key)).toEqual(['c', 'd']);
    expect(again.recovered[1]?.data).toEqual({ n: 'd' });
    expect(again.has('c') && !again.has('a')).toBe(true);
    await again.close();
  });

  it('cuts a torn last write and keeps every record before it', async () => {
    const dir = await scratch();
    const store = await createJournalStore({ dir });
    await store.put(rec('a'));
    await store.close();
    const torn = encodeOp({ op: 'put', record: rec('b') });
    await appendFile(join(dir, JOURNAL_FILE), torn.subarray(0, torn.length - 3));
    const again = await createJournalStore({ dir });
    expect(again.recovered.map((r) => r.key)).toEqual(['a']);
    await again.put(rec('c'));
    await again.close();
    const third = await createJournalStore({ dir });
    expect(third.recovered.map((r) => r.key)).toEqual(['a', 'c']);
    await third.close();
  });

  it('puts a journal damaged in the middle aside and starts empty', async () => {
    const dir = await scratch();
    const store = await createJournalStore({ dir });
    await store.put(rec('a'));
    await store.put(rec('b'));
    await store.close();
    const path = join(dir, JOURNAL_FILE);
    const bytes = await readFile(path);
    bytes[12] = (bytes[12] as number) ^ 0xff; // inside the first record's body
    await writeFile(path, bytes);
    const again = await createJournalStore({ dir });
    expect(again.recovered).toEqual([]);
    const names = await readdir(dir);
    expect(names.some((n) => n.startsWith(`${JOURNAL_FILE}.corrupt-`))).toBe(true);
    await again.put(rec('c'));
    await again.close();
  });

  it('refuses a put past max_bytes with E.OUTBOX.FULL, and takes it again once space is freed', async () => {
    const dir = await scratch();
    const store = await createJournalStore({ dir, maxBytes: 300 });
    await store.put(rec('a', 'x'.repeat(150)));
    const err = await store.put(rec('b', 'y'.repeat(150))).catch((e: unknown) => e);
    expect(AstraError.isInstance(err) && err.code).toBe('E.OUTBOX.FULL');
    await store.delete('a');
    await store.put(rec('b', 'y'.repeat(150)));
    expect(store.stats().records).toBe(1);
    await store.close();
  });

  it('groups the writes of one turn into one flush and compacts a mostly dead journal', async () => {
    const dir = await scratch();
    const store = await createJournalStore({ dir, fsync: 'batch' });
    const big = 'z'.repeat(20_000);
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(rec(`k${round}-${i}`, big))));
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.delete(`k${round}-${i}`)));
    }
    await store.put(rec('last'));
    const size = (await stat(join(dir, JOURNAL_FILE))).size;
    expect(size).toBeLessThan(4 * 1024 * 1024 + 100_000);
    await store.close();
    const again = await createJournalStore({ dir });
    expect(again.recovered.map((r) => r.key)).toEqual(['last']);
    await again.close();
  });

  it('gives a store that refuses writes, instead of throwing, when the folder cannot be made', async () => {
    const dir = await scratch();
    await writeFile(join(dir, 'file'), 'not a folder');
    const store = await createJournalStore({ dir: join(dir, 'file', 'outbox') });
    const err = await store.put(rec('a')).catch((e: unknown) => e);
    expect(AstraError.isInstance(err) && err.code).toBe('E.OUTBOX.IO');
  });
});

describe('createFaultInjectingStore', () => {
  it('fails writes with the injected errno, changes nothing, and heals', async () => {
    const dir = await scratch();
    const store = createFaultInjectingStore(await createJournalStore({ dir }));
    store.fail('ENOSPC');
    const err = await store.put(rec('a')).catch((e: unknown) => e);
    expect(AstraError.isInstance(err) && err.code === 'E.OUTBOX.IO' && err.details?.errno).toBe('ENOSPC');
    expect(store.has('a')).toBe(false);
    store.fail(undefined);
    await store.put(rec('a'));
    expect(store.has('a')).toBe(true);
    expect(store.refused).toBe(1);
    await store.close();
  });
});
