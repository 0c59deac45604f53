#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): the functions with the most
// self time, and the same grouped by package / Node internals, in % of all
// samples (idle excluded from neither, so 'program'/'(idle)' show the slack).
//
//   node src/profile-top.mjs <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);
const total = profile.samples.length;

const where = (url) => {
  if (!url) return '(native)';
  const m = /packages\/([^/]+)\/dist|apps\/([^/]+)\/dist|node_modules\/(?:\.pnpm\/)?(@?[^/@]+)/.exec(url);
  if (m) return m[1] ? `@astraflow/${m[1]}` : m[2] ? m[2] : m[3];
  if (url.startsWith('node:')) return 'node internals';
  return url.split('/').slice(-2).join('/');
};
const fns = new Map();
const groups = new Map();
for (const [id, count] of self) {
  const { callFrame: f } = byId.get(id);
  const key = `${f.functionName || '(anonymous)'}  ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  fns.set(key, (fns.get(key) ?? 0) + count);
  const g = f.url ? where(f.url) : f.functionName.startsWith('(') ? f.functionName : '(native)';
  groups.set(g, (groups.get(g) ?? 0) + count);
}
const pct = (n) => `${((100 * n) / total).toFixed(1)}%`.padStart(6);
console.log(`${total} samples\n\nself time by function:`);
for (const [k, n] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${k}`);
console.log('\nself time by package:');
for (const [k, n] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(n)}  ${k}`);
