import { existsSync, writeFileSync } from 'node:fs';
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { createNoopLogger, errorMessage, type Logger } from '@astraflow/protocol';

/** Marker file that keeps a task's data folder after the task ends (see `ctx.keepDataDir()`). */
export const KEEP_MARKER = '.astraflow-keep';

/**
 * Marks a task data folder to be kept when its task ends. Synchronous and
 * file-based, so it works the same from the main thread and from a worker
 * thread; the start-up sweep removes kept folders after the retention.
 */
export function keepTaskDataDir(dir: string): void {
  writeFileSync(path.join(dir, KEEP_MARKER), `${new Date().toISOString()}\n`);
}

/**
 * Called when a task has ended (its handler really stopped): removes the
 * task's folder unless the handler kept it, then the run folder if that is
 * now empty. Never throws; a failure is logged and left to the next sweep.
 */
export async function releaseTaskDataDir(dir: string, logger: Logger = createNoopLogger()): Promise<'kept' | 'removed'> {
  if (existsSync(path.join(dir, KEEP_MARKER))) return 'kept';
  try {
    await rm(dir, { recursive: true, force: true });
    // Fails harmlessly (ENOTEMPTY, ENOENT) while other tasks of the run still have folders.
    await rmdir(path.dirname(dir)).catch(() => {});
  } catch (error) {
    logger.warn({ dir, err: errorMessage(error) }, 'cannot remove task data folder');
  }
  return 'removed';
}

/** What {@link sweepTaskDataDirs} removed. */
export interface SweepResult {
  /** Task folders removed: left behind by an earlier process, or kept longer than the retention. */
  removed: number;
  /** Kept task folders still within the retention. */
  kept: number;
}

/**
 * Start-up sweep of `<root>/<run_id>/<task_id>`: removes every task folder
 * that was not kept (a previous process ended before cleaning it up), every
 * kept one whose keep marker is older than `retentionMs`, and run folders
 * left empty. Files directly in `root` and anything that is not a folder are
 * left alone. Never throws.
 */
export async function sweepTaskDataDirs(
  root: string,
  options: { retentionMs: number; now?: number; logger?: Logger },
): Promise<SweepResult> {
  const logger = options.logger ?? createNoopLogger();
  const now = options.now ?? Date.now();
  const result: SweepResult = { removed: 0, kept: 0 };
  for (const run of await subfolders(root)) {
    const runDir = path.join(root, run);
    for (const taskName of await subfolders(runDir)) {
      const dir = path.join(runDir, taskName);
      const marker = await stat(path.join(dir, KEEP_MARKER)).catch(() => undefined);
      if (marker && now - marker.mtimeMs < options.retentionMs) {
        result.kept++;
        continue;
      }
      try {
        await rm(dir, { recursive: true, force: true });
        result.removed++;
      } catch (error) {
        logger.warn({ dir, err: errorMessage(error) }, 'cannot remove task data folder');
      }
    }
    await rmdir(runDir).catch(() => {});
  }
  return result;
}

async function subfolders(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
