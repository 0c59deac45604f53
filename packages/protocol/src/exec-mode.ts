/**
 * Where a handler runs: on the main event loop (`inline`), in a worker
 * thread (`thread`), or chosen by its kind (`auto`: async functions inline,
 * plain functions in a thread). Set by a node's `config.exec_mode`, an
 * adapter's `metadata.exec_mode` or the `handler_exec_mode_default` setting,
 * and reported back in a result's `metadata.exec_mode`.
 */
export const EXEC_MODES = ['auto', 'inline', 'thread'] as const;

/** One of {@link EXEC_MODES}. */
export type ExecMode = (typeof EXEC_MODES)[number];

/** True when `value` is one of {@link EXEC_MODES}. */
export function isExecMode(value: unknown): value is ExecMode {
  return typeof value === 'string' && (EXEC_MODES as readonly string[]).includes(value);
}
