import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { Logger } from '@astraflow/protocol';
import { dirname } from 'node:path';

/**
 * Persists `worker_instance_id` (docs/protocol.md §3) so a restarted worker keeps
 * its identity. Writes go through a temp file + rename so a crash never
 * leaves a truncated id behind.
 */
export class InstanceIdStore {
  constructor(readonly path: string) {}

  /** The stored id, or undefined when none was stored (or the file is empty). */
  async read(): Promise<string | undefined> {
    try {
      const text = (await readFile(this.path, 'utf8')).trim();
      return text.length > 0 ? text : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(id: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${id}\n`, 'utf8');
    await rename(tmp, this.path);
  }
}

/**
 * The worker's identity across restarts: the configured
 * `worker_instance_id`, else the one persisted, else the one the
 * scheduler assigns in its accept (persisted then, unless configured).
 */
export class WorkerIdentity {
  readonly #store: InstanceIdStore;
  readonly #configured: string | undefined;
  readonly #log: Logger;
  #id: string | undefined;
  #persisting: Promise<void> | undefined;

  constructor(configured: string | undefined, file: string, log: Logger) {
    this.#configured = configured;
    this.#id = configured;
    this.#store = new InstanceIdStore(file);
    this.#log = log;
  }

  /** The identity, once known. */
  get id(): string | undefined {
    return this.#id;
  }

  /** Reads the persisted identity (when none is configured); a failed read is logged, not thrown. */
  async load(): Promise<void> {
    if (this.#id) return;
    try {
      this.#id = await this.#store.read();
    } catch (err) {
      this.#log.warn({ err, path: this.#store.path }, 'cannot read persisted worker_instance_id; a new one will be adopted');
    }
  }

  /** Takes the identity an accept names; persists it in the background unless one is configured. */
  adopt(id: string): void {
    if (id === this.#id || this.#configured) return;
    this.#id = id;
    this.#persisting = this.#store.write(id).catch((err: unknown) => {
      this.#log.warn({ err, path: this.#store.path }, 'cannot persist worker_instance_id');
    });
  }

  /** Settles once the last adopted identity is on disk (or failed to get there). */
  persisted(): Promise<void> {
    return this.#persisting ?? Promise.resolve();
  }
}
