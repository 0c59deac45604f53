import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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
