#!/usr/bin/env node
// prepack of every published package: a clean build, so a tarball always holds exactly
// what the sources compile to (never a stale or missing dist), then a check that every
// file the manifest points at exists. Refuses (exit 1) rather than pack a package that
// would install broken.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

const dir = process.cwd();
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const fail = (message) => {
  console.error(`prepack ${pkg.name}: ${message}`);
  process.exit(1);
};

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  fail('typescript is not installed; run `pnpm install` at the repository root first');
}
rmSync(join(dir, 'dist'), { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-b'], { cwd: dir, stdio: 'inherit' });
} catch {
  fail('the build failed; nothing was packed');
}

const targets = [];
const collect = (value) => {
  if (typeof value === 'string') targets.push(value);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) collect(v);
};
collect(pkg.exports);
collect(pkg.bin);
for (const field of ['main', 'types']) collect(pkg[field]);
// A subpath pattern ("./schemas/*") needs at least one file it maps to.
const present = (target) => {
  if (!target.includes('*')) return existsSync(join(dir, target));
  const [prefix, suffix] = target.split('*');
  const folder = join(dir, dirname(`${prefix}x`));
  const start = basename(`${prefix}x`).slice(0, -1);
  return existsSync(folder) && readdirSync(folder).some((f) => f.startsWith(start) && f.endsWith(suffix));
};
const missing = [...new Set(targets)].filter((t) => !present(t));
if (missing.length > 0) fail(`missing after the build: ${missing.join(', ')}`);
for (const file of ['README.md', 'LICENSE']) if (!existsSync(join(dir, file))) fail(`no ${file}`);
