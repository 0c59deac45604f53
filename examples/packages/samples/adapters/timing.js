// ES module (this package's package.json says "type": "module").

/** Waits `params.ms` milliseconds; rejects as soon as `ctx.signal` aborts. */
export async function slow(ctx) {
  const ms = Number(ctx.params?.ms ?? 100);
  const signal = ctx.signal;
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
  return { slept_ms: ms };
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
