'use strict';
// CommonJS on purpose (.cjs inside a "type": "module" package), reached via
// the dotted entrypoint form `adapters.errors`.

/** Rejects with `params.message` (default "samples.fail"). */
async function fail(ctx) {
  throw new Error(ctx.params?.message ?? 'samples.fail');
}

/** Returns a BigInt, which JSON cannot represent. */
async function bad_output() {
  return { value: 2n ** 64n };
}

module.exports = { fail, bad_output };
