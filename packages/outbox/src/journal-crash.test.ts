import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createJournalStore } from './journal-store.js';

// The child runs the built journal (tests import packages through dist, like every other package's tests).
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Writes puts and deletes as fast as it can, printing each one once its promise resolved, until killed. */
const CHILD = `
const { createJournalStore } = await import(process.argv[1]);
const store = await createJournalStore({ dir: process.argv[2] });
const prefix = process.argv[3];
for (let i = 0; ; i++) {
  const key = prefix + i;
  const wave = Array.from({ length: 1 + (i % 7) }, (_, j) => store.put({ key: key + '.' + j, kind: 'answer', at: Date.now(), data: 'x'.repeat((i * 37 + j * 11) % 900) }));
  await Promise.all(wave);
  process.stdout.write('P ' + key + ' ' + wave.length + '\\n');
  if (i % 3 === 0) {
    await store.delete(key + '.0');
    process.stdout.write('D ' + key + '.0\\n');
  }
}
`;

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('journal under kill -9', () => {
  it('keeps every write it reported stored, loses no delete it reported, and never needs quarantine', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'astra-journal-crash-'));
    dirs.push(dir);
    const stored = new Set<string>();
    const deleted = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, DIST, dir, `r${round}-`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Let it get going, then kill it at an arbitrary point of its write loop.
      while (!out.includes('\n')) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20 + ((round * 53) % 150)));
      child.kill('SIGKILL');
      await exited;
      let last = '';
      for (const line of out.split('\n').slice(0, -1)) {
        const [op, key, count] = line.split(' ');
        if (op === 'P') for (let j = 0; j < Number(count); j++) stored.add(`${key}.${j}`);
        else if (op === 'D') deleted.add(key as string);
        if (op === 'P') last = key as string;
      }
      const store = await createJournalStore({ dir });
      const keys = new Set(store.recovered.map((r) => r.key));
      await store.close();
      // The child may have been killed after a delete went through but before it said so.
      const inFlight = `${last}.0`;
      if (Number(last.split('-')[1]) % 3 === 0 && !keys.has(inFlight)) deleted.add(inFlight);
      const missing = [...stored].filter((k) => !deleted.has(k) && !keys.has(k));
      const resurrected = [...deleted].filter((k) => keys.has(k));
      expect({ round, missing, resurrected }).toEqual({ round, missing: [], resurrected: [] });
    }
    expect((await readdir(dir)).filter((n) => n.includes('corrupt'))).toEqual([]);
    expect(stored.size).toBeGreaterThan(100);
  }, 60_000);
});
