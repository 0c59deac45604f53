import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { createNoopLogger, type Logger } from '@astraflow/protocol';

/** One reading of the worker's own load. */
export interface LoadSample {
  /** 99th percentile of the event-loop delay over the last interval (ms). */
  eventLoopDelayMs: number;
  /** Heap in use, in % of the V8 heap limit. */
  heapUsedPct: number;
}

/** Takes {@link LoadSample}s; the default one reads `perf_hooks` and `v8`. */
export interface LoadSampler {
  /** The load since the previous call. */
  sample(): LoadSample;
  close(): void;
}

/**
 * Event-loop delay from `perf_hooks.monitorEventLoopDelay` (p99 since the
 * last sample) and heap use from `v8.getHeapStatistics()`. A loop blocked for
 * the whole interval records few delay samples, so the lateness of the
 * sampling timer itself (`elapsedMs` beyond `intervalMs`) counts as delay too.
 */
export function createLoadSampler(intervalMs: number): LoadSampler {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let last = performance.now();
  return {
    sample() {
      const now = performance.now();
      const lateMs = Math.max(0, now - last - intervalMs);
      last = now;
      const p99 = histogram.count > 0 ? histogram.percentile(99) / 1e6 : 0;
      histogram.reset();
      const heap = getHeapStatistics();
      const heapUsedPct = heap.heap_size_limit > 0 ? (heap.used_heap_size / heap.heap_size_limit) * 100 : 0;
      return { eventLoopDelayMs: Math.max(p99, lateMs), heapUsedPct };
    },
    close() {
      histogram.disable();
    },
  };
}

/** Options of {@link createLoadMonitor} (settings `load_*`). */
export interface LoadMonitorOptions {
  /** Sampling period (ms). */
  intervalMs: number;
  /** Delay above which the worker is overloaded; 0 = not watched. */
  maxEventLoopDelayMs: number;
  /** Heap use (%) above which the worker is overloaded; 0 = not watched. */
  maxHeapUsedPct: number;
  /** Recovery needs every watched figure below this % of its threshold (hysteresis), 1..100. */
  recoverPct: number;
  /** Default: {@link createLoadSampler}. */
  sampler?: LoadSampler;
  logger?: Logger;
}

/** Watches the worker's own load; see {@link createLoadMonitor}. */
export interface LoadMonitor {
  /** True from a sample over a threshold until every figure is back under its recovery level. */
  readonly overloaded: boolean;
  /** The latest sample (zeros before the first). */
  readonly last: LoadSample;
  /** How long a refused task should wait before this worker is asked again (ms). */
  readonly retryAfterMs: number;
  /** Times the worker became overloaded. */
  readonly episodes: number;
  /** Applies one sample (the timer calls this; exposed so the thresholds can be tested exactly). */
  update(sample: LoadSample): void;
  /** Starts sampling every `intervalMs` (the timer does not keep the process alive). */
  start(): void;
  stop(): void;
}

/**
 * Admission by load: samples event-loop delay and heap use every
 * `intervalMs`. Over `maxEventLoopDelayMs` or `maxHeapUsedPct` the worker is
 * overloaded (heartbeats say `healthy: false`, new dispatches are refused as
 * `overloaded`, `/readyz` answers 503); it recovers by itself once every
 * figure is below `recoverPct` % of its threshold, so it does not flap at the edge.
 */
export function createLoadMonitor(options: LoadMonitorOptions): LoadMonitor {
  const log = (options.logger ?? createNoopLogger()).child({ component: 'load' });
  const intervalMs = Math.min(60_000, Math.max(10, options.intervalMs));
  const recover = Math.min(100, Math.max(1, options.recoverPct)) / 100;
  const watchDelay = options.maxEventLoopDelayMs > 0;
  const watchHeap = options.maxHeapUsedPct > 0;
  let sampler = options.sampler;
  let timer: NodeJS.Timeout | undefined;
  let overloaded = false;
  let episodes = 0;
  let last: LoadSample = { eventLoopDelayMs: 0, heapUsedPct: 0 };

  const over = (s: LoadSample): boolean =>
    (watchDelay && s.eventLoopDelayMs > options.maxEventLoopDelayMs) || (watchHeap && s.heapUsedPct > options.maxHeapUsedPct);
  const under = (s: LoadSample): boolean =>
    (!watchDelay || s.eventLoopDelayMs < options.maxEventLoopDelayMs * recover) &&
    (!watchHeap || s.heapUsedPct < options.maxHeapUsedPct * recover);
  const figures = (s: LoadSample): Record<string, number> => ({
    event_loop_delay_ms: Math.round(s.eventLoopDelayMs),
    heap_used_pct: Math.round(s.heapUsedPct * 10) / 10,
  });

  const monitor: LoadMonitor = {
    get overloaded() {
      return overloaded;
    },
    get last() {
      return last;
    },
    retryAfterMs: Math.min(60_000, Math.max(1000, 2 * intervalMs)),
    get episodes() {
      return episodes;
    },
    update(sample) {
      last = sample;
      if (!overloaded && over(sample)) {
        overloaded = true;
        episodes++;
        log.warn(
          { ...figures(sample), max_event_loop_delay_ms: options.maxEventLoopDelayMs, max_heap_used_pct: options.maxHeapUsedPct },
          'worker overloaded: refusing new tasks until the load falls',
        );
      } else if (overloaded && under(sample)) {
        overloaded = false;
        log.info(figures(sample), 'worker load back to normal: taking tasks again');
      }
    },
    start() {
      if (timer || (!watchDelay && !watchHeap)) return;
      sampler ??= createLoadSampler(intervalMs);
      const source = sampler;
      timer = setInterval(() => monitor.update(source.sample()), intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      sampler?.close();
    },
  };
  return monitor;
}
