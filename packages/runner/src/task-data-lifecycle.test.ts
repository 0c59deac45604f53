import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureTaskDataDir, TaskDataDir, taskDataDirPath } from './task-data-dir.js';
import { KEEP_MARKER, keepTaskDataDir, releaseTaskDataDir, sweepTaskDataDirs } from './task-data-lifecycle.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'astra-task-data-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('task data folder lifecycle', () => {
  it('removes a finished task folder, and its run folder once empty', async () => {
    const a = await ensureTaskDataDir(root, 'run-1', 'task-a');
    const b = await ensureTaskDataDir(root, 'run-1', 'task-b');
    await writeFile(join(a, 'scratch.bin'), 'x');
    expect(await releaseTaskDataDir(a)).toBe('removed');
    expect(existsSync(a)).toBe(false);
    expect(existsSync(join(root, 'run-1'))).toBe(true);
    await releaseTaskDataDir(b);
    expect(await readdir(root)).toEqual([]);
  });

  it('creates task folders of a run while other tasks of the run remove the run folder, without a failure', async () => {
    // Found by the heap bench: 15 of 112 000 tasks failed with ENOTDIR when the run folder
    // was removed between the two levels of mkdir -p. Here lanes that only remove and re-make
    // the run folder (what ending tasks do, much more often) race lanes that make task folders
    // both ways: the async mkdir -p and the lazy one behind ctx.dataDir.
    const runDir = join(root, 'run');
    const failures: string[] = [];
    let made = 0;
    let stop = false;
    const churn = async () => {
      while (!stop) {
        await rmdir(runDir).catch(() => {});
        await mkdir(runDir).catch(() => {});
      }
    };
    const make = async (lane: number) => {
      for (let i = 0; i < 1500; i++) {
        const id = `t${lane}-${i}`;
        try {
          const dir =
            i % 2 === 0 ? await ensureTaskDataDir(root, 'run', id) : new TaskDataDir(taskDataDirPath(root, 'run', id)).ensure();
          made++;
          await rm(dir, { recursive: true });
        } catch (error) {
          failures.push(String(error));
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const churning = Promise.all(Array.from({ length: 4 }, churn));
    await Promise.all(Array.from({ length: 4 }, (_, lane) => make(lane)));
    stop = true;
    await churning;
    expect(failures.slice(0, 3)).toEqual([]);
    expect(made).toBe(6000);
  }, 30_000);

  it('still fails, clearly, when a file stands where the run folder belongs', async () => {
    await writeFile(join(root, 'run'), 'not a folder');
    await expect(ensureTaskDataDir(root, 'run', 't1')).rejects.toThrow(
      /cannot create task data folder .*run.t1: .*(ENOTDIR|EEXIST)/,
    );
  });

  it('keeps a folder its handler asked to keep', async () => {
    const dir = await ensureTaskDataDir(root, 'run-1', 'task-k');
    keepTaskDataDir(dir);
    expect(await releaseTaskDataDir(dir)).toBe('kept');
    expect(existsSync(join(dir, KEEP_MARKER))).toBe(true);
  });

  it('sweeps leftovers and kept folders past their retention at start-up, and leaves other files alone', async () => {
    const leftover = await ensureTaskDataDir(root, 'run-1', 'crashed');
    const fresh = await ensureTaskDataDir(root, 'run-2', 'kept-fresh');
    const old = await ensureTaskDataDir(root, 'run-2', 'kept-old');
    keepTaskDataDir(fresh);
    keepTaskDataDir(old);
    const longAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(join(old, KEEP_MARKER), longAgo, longAgo);
    await writeFile(join(root, 'not-a-run.txt'), 'mine');
    await mkdir(join(root, 'empty-run'));
    const result = await sweepTaskDataDirs(root, { retentionMs: 86_400_000 });
    expect(result).toEqual({ removed: 2, kept: 1 });
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect((await readdir(root)).sort()).toEqual(['not-a-run.txt', 'run-2']);
  });

  it('sweeps nothing and never throws when the data folder does not exist yet', async () => {
    await expect(sweepTaskDataDirs(join(root, 'missing'), { retentionMs: 0 })).resolves.toEqual({ removed: 0, kept: 0 });
  });
});
