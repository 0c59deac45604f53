/**
 * Seam for task-level metrics. The Prometheus implementation lives in
 * `prometheus-metrics.ts`; anything else (StatsD, OpenTelemetry) can
 * implement this instead.
 */
export interface TaskMetrics {
  /** A dispatch started running its handler. */
  taskStarted(nodeType: string): void;
  /** A dispatch was answered; `outcome` is the result status or the error code. */
  taskFinished(nodeType: string, durationMs: number, outcome: string): void;
}

/** Metrics sink that records nothing. */
export const noopTaskMetrics: TaskMetrics = {
  taskStarted() {},
  taskFinished() {},
};
