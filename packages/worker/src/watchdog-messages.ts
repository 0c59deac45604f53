/** One running task, as named in the watchdog's log line. */
export interface WatchdogTask {
  task_id: string;
  run_id: string;
  node_type: string;
}

/** `workerData` of the watchdog thread. */
export interface WatchdogThreadData {
  /** One Int32 the main loop increments on every beat. */
  beat: SharedArrayBuffer;
  timeoutMs: number;
  checkMs: number;
  exitCode: number;
  /** Name of the global function that ends the process (bypasses the exit guard). */
  exitKey: string;
  /** The running tasks ({@link WatchdogTaskTable} buffer), read when the watchdog fires. */
  tasks: SharedArrayBuffer;
}
