// Plain (non-async) functions on purpose: in `auto` exec mode they run in a
// worker thread, which exercises the runner's thread path with the simplest code.

/** Returns the message it was given. */
export function echo(ctx) {
  const message = ctx.params?.message ?? '';
  return { echo: message };
}

/** Always fails, so callers can test error reporting. */
export function fail() {
  throw new Error('boom');
}
