/**
 * Settings the existing Python worker reads and this worker has no use for.
 * A config file written for the Python worker carries them; they are
 * reported in one warning instead of stopping the start, so the file drops
 * in. Anything else unknown stays an error.
 */
export const PYTHON_WORKER_ONLY_KEYS: ReadonlySet<string> = new Set([
  // The Python worker's logical id; ours is worker_name plus the persisted worker_instance_id.
  'worker_id',
  // Recorded by the Python loader itself (the file that seeded the settings).
  'config_path',
]);
