import type { WatchdogTask } from './watchdog-messages.js';

/** Tasks the table names at most; more running at once are counted, not named. */
const SLOTS = 256;
/** Bytes of one task's JSON; longer ids are cut to fit. */
const SLOT_BYTES = 512;
/** The cut applied to each field when a task does not fit its slot (4 bytes per char at worst). */
const FIELD_CHARS = 32;
const HEADER_INTS = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function layout(buffer: SharedArrayBuffer): { header: Int32Array; lengths: Int32Array; bytes: Uint8Array } {
  return {
    header: new Int32Array(buffer, 0, HEADER_INTS),
    lengths: new Int32Array(buffer, HEADER_INTS * 4, SLOTS),
    bytes: new Uint8Array(buffer, (HEADER_INTS + SLOTS) * 4, SLOTS * SLOT_BYTES),
  };
}

/**
 * The tasks running now, in shared memory, for the watchdog thread to read
 * when the main loop is blocked. A task start or end writes one slot (its
 * JSON and its length) instead of posting the whole list to the thread, so
 * the watchdog costs the dispatch path O(1) and no message per task. The
 * thread reads the table only when it fires, while the main loop is stuck.
 */
export class WatchdogTaskTable {
  /** Shared with the watchdog thread (pass it in `workerData`). */
  readonly buffer = new SharedArrayBuffer((HEADER_INTS + SLOTS) * 4 + SLOTS * SLOT_BYTES);
  readonly #header: Int32Array;
  readonly #lengths: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #free: number[] = [];
  readonly #slotOf = new Map<WatchdogTask, number>();
  readonly #unnamed = new Set<WatchdogTask>();

  constructor() {
    ({ header: this.#header, lengths: this.#lengths, bytes: this.#bytes } = layout(this.buffer));
    for (let slot = SLOTS - 1; slot >= 0; slot--) this.#free.push(slot);
  }

  /** Records a task that started (by identity: pass the same object to {@link WatchdogTaskTable.remove}). */
  add(task: WatchdogTask): void {
    if (this.#slotOf.has(task) || this.#unnamed.has(task)) return;
    const slot = this.#free.pop();
    if (slot === undefined) {
      this.#unnamed.add(task);
      Atomics.add(this.#header, 0, 1);
      return;
    }
    const target = this.#bytes.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES);
    const entry = { task_id: task.task_id, run_id: task.run_id, node_type: task.node_type };
    let json = JSON.stringify(entry);
    let { read, written } = encoder.encodeInto(json, target);
    if (read < json.length) {
      json = JSON.stringify({
        task_id: entry.task_id.slice(0, FIELD_CHARS),
        run_id: entry.run_id.slice(0, FIELD_CHARS),
        node_type: entry.node_type.slice(0, FIELD_CHARS),
      });
      ({ read, written } = encoder.encodeInto(json, target));
    }
    // The length goes in last: a reader sees either no task or a whole one.
    Atomics.store(this.#lengths, slot, read < json.length ? 0 : written);
    this.#slotOf.set(task, slot);
  }

  /** Forgets a task that ended. */
  remove(task: WatchdogTask): void {
    const slot = this.#slotOf.get(task);
    if (slot === undefined) {
      if (this.#unnamed.delete(task)) Atomics.sub(this.#header, 0, 1);
      return;
    }
    Atomics.store(this.#lengths, slot, 0);
    this.#slotOf.delete(task);
    this.#free.push(slot);
  }

  /** Replaces the whole list. */
  set(tasks: readonly WatchdogTask[]): void {
    for (const task of [...this.#slotOf.keys(), ...this.#unnamed]) this.remove(task);
    for (const task of tasks) this.add(task);
  }

  /** The tasks in a table's buffer (the watchdog thread's side), and how many more ran unnamed. */
  static read(buffer: SharedArrayBuffer): { tasks: WatchdogTask[]; more: number } {
    const { header, lengths, bytes } = layout(buffer);
    const tasks: WatchdogTask[] = [];
    for (let slot = 0; slot < SLOTS; slot++) {
      const length = Atomics.load(lengths, slot);
      if (length <= 0) continue;
      try {
        // Copied out: TextDecoder does not read shared memory directly.
        tasks.push(JSON.parse(decoder.decode(bytes.slice(slot * SLOT_BYTES, slot * SLOT_BYTES + length))) as WatchdogTask);
      } catch {
        // A slot being rewritten right now: leave it out.
      }
    }
    return { tasks, more: Math.max(0, Atomics.load(header, 0)) };
  }
}
