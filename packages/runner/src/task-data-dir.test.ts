import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTaskDataDir, safePathSegment, taskDataDirPath } from './task-data-dir.js';

const created: string[] = [];
afterAll(async () => {
  await Promise.all(created.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('task data folders', () => {
  it('keeps safe ids as they are', () => {
    expect(safePathSegment('run-1_a.b')).toBe('run-1_a.b');
    expect(taskDataDirPath('/data', 'r1', 't1')).toBe(path.join('/data', 'r1', 't1'));
  });

  it.each(['..', '.', '../x', 'a/../../b', '/etc/passwd', 'a\\b', '', 'x'.repeat(300), 'nul\u0000byte'])(
    'turns %j into one folder inside the root',
    (id) => {
      const segment = safePathSegment(id);
      expect(segment).not.toContain('/');
      expect(segment).not.toContain('\\');
      expect(/^\.+$/.test(segment)).toBe(false);
      expect(segment.length).toBeLessThanOrEqual(100);
      const dir = taskDataDirPath('/data/root', id, 'task');
      expect(path.dirname(path.dirname(dir))).toBe('/data/root');
    },
  );

  it('never maps two different ids to the same folder', () => {
    expect(safePathSegment('a/b')).not.toBe(safePathSegment('a_b'));
    expect(safePathSegment('a/b')).not.toBe(safePathSegment('a:b'));
  });

  it('creates the folder (mkdir -p) under the root', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'runner-data-'));
    created.push(root);
    const dir = await ensureTaskDataDir(path.join(root, 'deep'), '../escape', 'task/1');
    expect(dir.startsWith(path.join(root, 'deep') + path.sep)).toBe(true);
    expect((await stat(dir)).isDirectory()).toBe(true);
  });
});
