// The watchdog's own thread (see watchdog.ts). It must keep running while
// the main event loop is blocked, so it only reads shared memory and its
// own message port, and ends the process through the inspector, whose
// messages interrupt even a busy loop on the main thread.
import { writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';
import type { WatchdogThreadData } from './watchdog-messages.js';
import { WatchdogTaskTable } from './watchdog-task-table.js';

const data = workerData as WatchdogThreadData;
const beat = new Int32Array(data.beat);
let lastValue = Atomics.load(beat, 0);
let lastChange = Date.now();
let fired = false;

function fire(blockedMs: number): void {
  fired = true;
  // The main loop is stuck, so the table of running tasks holds still while it is read.
  const { tasks, more } = WatchdogTaskTable.read(data.tasks);
  const line = {
    level: 60,
    time: Date.now(),
    pid: process.pid,
    component: 'watchdog',
    blocked_ms: blockedMs,
    timeout_ms: data.timeoutMs,
    exit_code: data.exitCode,
    running_tasks: tasks,
    msg: `main event loop blocked for ${blockedMs} ms (limit ${data.timeoutMs} ms); exiting with code ${data.exitCode} so the process is restarted; running tasks: ${
      tasks.map((t) => `${t.node_type} ${t.task_id}`).join(', ') || 'none'
    }${more > 0 ? ` and ${more} more` : ''}`,
  };
  try {
    writeSync(1, `${JSON.stringify(line)}\n`);
  } catch {
    // stdout gone: the exit code still tells.
  }
  try {
    const session = new Session();
    session.connectToMainThread();
    session.post('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(data.exitKey)}](${data.exitCode})` });
  } catch {
    // No inspector in this Node build: the kill below ends the process.
  }
  // Blocked where the inspector cannot interrupt (native code, Atomics.wait): no exit code can be chosen then.
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000);
}

setInterval(() => {
  if (fired) return;
  const value = Atomics.load(beat, 0);
  const now = Date.now();
  if (value !== lastValue) {
    lastValue = value;
    lastChange = now;
    return;
  }
  if (now - lastChange > data.timeoutMs) fire(now - lastChange);
}, data.checkMs);
