import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol';

const SAFE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

/**
 * Turns an id from the wire into one safe folder name. Ids that are
 * already safe are kept as they are (operators can find the folder by id);
 * anything else (`/`, `..`, control characters, very long ids) is replaced
 * character by character and suffixed with a hash of the original, so two
 * different ids can never share a folder.
 */
export function safePathSegment(id: string): string {
  if (SAFE_SEGMENT.test(id)) return id;
  const cleaned = id
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, (dots) => '_'.repeat(dots.length))
    .slice(0, 64);
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 12);
  return `${cleaned}-${hash}`;
}

/** `<root>/<run_id>/<task_id>` with both ids made path-safe; never outside `root`. */
export function taskDataDirPath(root: string, runId: string, taskId: string): string {
  const base = path.resolve(root);
  const dir = path.join(base, safePathSegment(runId), safePathSegment(taskId));
  if (!dir.startsWith(base + path.sep)) {
    // Unreachable with safePathSegment; kept so a future change cannot silently escape the root.
    throw new AstraError(ErrorCode.RUNNER_FAILURE, `task data folder ${dir} would leave ${base}`);
  }
  return dir;
}

/**
 * Tries of mkdir -p while other tasks of the run keep removing the (empty) run
 * folder. Each try is one or two syscalls, so even a real file in the way fails
 * within a millisecond; 8 tries still lost a few folders in the unit test's
 * far harsher churn than any run makes.
 */
const MKDIR_TRIES = 100;

/**
 * mkdir -p of `<run>/<task>`. A task of the same run that just ended removes
 * the run folder once it is empty, which can happen between the two levels of
 * mkdir -p: Node then reports ENOENT, or ENOTDIR when the folder vanished
 * between its EEXIST and the check that it is a folder (15 of 112 000 tasks
 * in the heap bench, 64 in flight). Both are retried a bounded number of
 * times, so a real file in the way still fails, promptly.
 */
async function mkdirRacingRunRemoval(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(dir, { recursive: true });
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= MKDIR_TRIES || (code !== 'ENOENT' && code !== 'ENOTDIR')) throw error;
    }
  }
}

/** {@link mkdirRacingRunRemoval}, synchronous, for {@link TaskDataDir.ensure}. */
function mkdirSyncRacingRunRemoval(dir: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      mkdirSync(dir, { recursive: true });
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= MKDIR_TRIES || (code !== 'ENOENT' && code !== 'ENOTDIR')) throw error;
    }
  }
}

/** Creates (mkdir -p) and returns the data folder of one task. */
export async function ensureTaskDataDir(root: string, runId: string, taskId: string): Promise<string> {
  const dir = taskDataDirPath(root, runId, taskId);
  try {
    await mkdirRacingRunRemoval(dir);
  } catch (error) {
    throw createFailure(dir, error);
  }
  return dir;
}

function createFailure(dir: string, error: unknown): AstraError {
  return new AstraError(ErrorCode.RUNNER_FAILURE, `cannot create task data folder ${dir}: ${errorMessage(error)}`, {
    cause: error,
  });
}

/**
 * A task's data folder, created on first use: `ctx.dataDir` reads
 * {@link TaskDataDir.ensure}, so a handler that never looks at it costs no
 * `mkdir` (most tasks never write a file), while one that does always finds
 * the folder there. Creation is synchronous (one `mkdir -p`, microseconds) so
 * that `ctx.dataDir` can stay a plain string property.
 */
export class TaskDataDir {
  /** `<root>/<run_id>/<task_id>`, path-safe (see {@link taskDataDirPath}). */
  readonly path: string;
  #created = false;

  readonly #onCreated: (() => void) | undefined;

  /**
   * `path` as {@link taskDataDirPath} made it (the thread side gets it from the main thread);
   * `onCreated` runs once when this object creates the folder (a thread tells the main thread).
   */
  constructor(path: string, onCreated?: () => void) {
    this.path = path;
    this.#onCreated = onCreated;
  }

  /** Records that the folder was created elsewhere (by the task's thread). */
  markCreated(): void {
    this.#created = true;
  }

  /** True once the folder was created (by this object). */
  get created(): boolean {
    return this.#created;
  }

  /** Creates the folder (mkdir -p) unless already done; returns its path. Throws `E.RUNNER.FAILURE`. */
  ensure(): string {
    if (this.#created) return this.path;
    try {
      mkdirSyncRacingRunRemoval(this.path);
    } catch (error) {
      throw createFailure(this.path, error);
    }
    this.#created = true;
    this.#onCreated?.();
    return this.path;
  }
}
