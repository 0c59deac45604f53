// A class export: the worker instantiates it once (no arguments) and calls
// its methods bound to that instance, so `this` works inside handlers.
export class EchoAdapter {
  version = 2;

  /** Returns the message and the package's major version. */
  echo(ctx) {
    return { echo: ctx.params?.message ?? '', version: this.version };
  }

  /** Always fails. */
  fail() {
    throw new Error('boom');
  }
}
