#!/usr/bin/env node
import { main } from './main.js';

await main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  // Let stdout/stderr drain before the process goes.
  exit: (code) => {
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
});
