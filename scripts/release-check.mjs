#!/usr/bin/env node
// pnpm release:check — packs every public workspace package exactly as `changeset publish`
// would (pnpm pack: prepack's clean build, workspace:^ rewritten to versions) and lints each
// tarball: publint (package.json vs. files) and arethetypeswrong (types resolve for ESM
// consumers; the packages are ESM-only, so the esm-only profile), plus our own rules:
// LICENSE and README inside, no source maps, no tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const out = mkdtempSync(join(tmpdir(), 'astraflow-release-check-'));
const problems = [];

const packages = ['packages', 'apps']
  .flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name)))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);

try {
  for (const { dir, pkg } of packages) {
    console.log(`\n== ${pkg.name}`);
    const before = new Set(readdirSync(out));
    try {
      execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      problems.push(`${pkg.name}: pnpm pack failed (above)`);
      continue;
    }
    const tarball = readdirSync(out).find((f) => !before.has(f));
    if (!tarball) {
      problems.push(`${pkg.name}: pnpm pack wrote no tarball`);
      continue;
    }
    const file = join(out, tarball);
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const has = (path) => listing.includes(`package/${path}`);
    for (const required of ['package.json', 'README.md', 'LICENSE'])
      if (!has(required)) problems.push(`${pkg.name}: no ${required} in the tarball`);
    for (const entry of listing) {
      if (entry.endsWith('.map')) problems.push(`${pkg.name}: ships a source map without its sources (${entry})`);
      if (/\.test(-util)?\.[cm]?[jt]s$/.test(entry) || /\.test\.d\.ts$/.test(entry))
        problems.push(`${pkg.name}: ships a test file (${entry})`);
    }
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8' }));
    for (const section of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [dep, range] of Object.entries(manifest[section] ?? {})) {
        if (String(range).startsWith('workspace:')) problems.push(`${pkg.name}: ${section}.${dep} still says ${range}`);
      }
    }
    for (const [tool, args] of [
      ['publint', ['run', file, '--strict']],
      ['attw', [file, '--profile', 'esm-only', '--format', 'ascii']],
    ]) {
      try {
        execFileSync(bin(tool), args, { stdio: 'inherit' });
      } catch {
        problems.push(`${pkg.name}: ${tool} reported problems (above)`);
      }
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.error(`\nrelease:check failed:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`\nrelease:check: ${packages.length} packages pack cleanly`);
