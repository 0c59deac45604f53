/**
 * Removes every `ASTRA_WORKER_*` variable (the auth token among them) from
 * `env` (default `process.env`), once the settings have been read from it.
 * Package code, worker threads (which copy `process.env` when created) and
 * child processes then cannot read them. Returns the names removed.
 */
export function scrubSecretEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const removed: string[] = [];
  for (const key of Object.keys(env)) {
    if (key.startsWith('ASTRA_WORKER_')) {
      delete env[key];
      removed.push(key);
    }
  }
  return removed;
}
