// ES module (this package's package.json says "type": "module").
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Waits `params.ms` milliseconds; rejects as soon as `ctx.signal` aborts.
 * Appends a line to `runs.log` in the task's data folder (kept after the
 * task through ctx.keepDataDir()) on every start, and returns when it ran and
 * how many times this task has started, so tests can prove that a task ran
 * exactly once and measure how many overlapped.
 */
export async function slow(ctx) {
  const ms = Number(ctx.params?.ms ?? 100);
  const signal = ctx.signal;
  const started_at = Date.now();
  let runs;
  if (ctx.dataDir) {
    // Kept after the task ends, so tests can read the ledger.
    ctx.keepDataDir?.();
    const ledger = join(ctx.dataDir, 'runs.log');
    await appendFile(ledger, `${started_at}\n`);
    runs = (await readFile(ledger, 'utf8')).trim().split('\n').length;
  }
  await new Promise((resolve, reject) => {
    const abortError = () => signal?.reason ?? new Error('samples.slow aborted');
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return { slept_ms: ms, started_at, ended_at: Date.now(), ...(runs === undefined ? {} : { runs }) };
}

/**
 * Burns CPU for `params.ms` milliseconds. Deliberately synchronous and blind
 * to `ctx.signal`: it stands for handlers that hog their thread, which the
 * `auto` exec mode moves off the main event loop.
 */
export function cpu(ctx) {
  const ms = Number(ctx.params?.ms ?? 100);
  const end = Date.now() + ms;
  let iterations = 0;
  while (Date.now() < end) iterations += 1;
  return { burned_ms: ms, iterations };
}

/**
 * Sleeps `params.ms` milliseconds without ever looking at `ctx.signal`: a
 * timeout answers the task, but this code runs on until the sleep ends.
 */
export async function stubborn(ctx) {
  const ms = Number(ctx.params?.ms ?? 100);
  const started_at = Date.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { slept_ms: ms, started_at, ended_at: Date.now() };
}

/**
 * Blocks the event loop it runs on: `params.bursts` busy loops of
 * `params.burst_ms` each, `params.gap_ms` apart. Inline, it starves
 * everything else on the worker's main loop between the gaps.
 */
export async function hog(ctx) {
  const bursts = Number(ctx.params?.bursts ?? 5);
  const burstMs = Number(ctx.params?.burst_ms ?? 200);
  const gapMs = Number(ctx.params?.gap_ms ?? 20);
  for (let i = 0; i < bursts; i += 1) {
    const end = Date.now() + burstMs;
    while (Date.now() < end) {
      // busy
    }
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return { bursts, burst_ms: burstMs, gap_ms: gapMs };
}
