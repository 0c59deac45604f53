import { describe, expect, it } from 'vitest';
import { WatchdogTaskTable } from './watchdog-task-table.js';

const task = (n: number) => ({ task_id: `t-${n}`, run_id: 'r', node_type: 'a.b' });

describe('WatchdogTaskTable', () => {
  it('names the tasks running now, one slot write per start and end', () => {
    const table = new WatchdogTaskTable();
    const [a, b, c] = [task(1), task(2), task(3)];
    table.add(a);
    table.add(b);
    table.add(c);
    table.remove(b);
    expect(WatchdogTaskTable.read(table.buffer)).toEqual({ tasks: [a, c], more: 0 });
    table.set([b]);
    expect(WatchdogTaskTable.read(table.buffer)).toEqual({ tasks: [b], more: 0 });
  });

  it('counts the tasks beyond its slots, and cuts ids too long for a slot', () => {
    const table = new WatchdogTaskTable();
    const many = Array.from({ length: 300 }, (_, i) => task(i));
    for (const t of many) table.add(t);
    expect(WatchdogTaskTable.read(table.buffer).more).toBe(44);
    for (const t of many) table.remove(t);
    expect(WatchdogTaskTable.read(table.buffer)).toEqual({ tasks: [], more: 0 });
    const long = { task_id: 'é'.repeat(1000), run_id: 'r', node_type: 'a.b' };
    table.add(long);
    expect(WatchdogTaskTable.read(table.buffer).tasks).toEqual([{ task_id: 'é'.repeat(32), run_id: 'r', node_type: 'a.b' }]);
  });
});
