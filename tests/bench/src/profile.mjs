#!/usr/bin/env node
// Profiles the real worker binary under load: starts it with --cpu-prof
// against a scheduler peer, runs echo tasks, stops it (the profile is written
// on exit) and prints the top frames (profile-top.mjs).
//
//   node src/profile.mjs [tasks=20000] [concurrency=64] [node_type=bench.echo]
//   BENCH_PROFILE_DIR=/tmp/p node src/profile.mjs   (keep the .cpuprofile there)
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchTask } from './bench-tasks.mjs';
import { startWorkerProcess } from './processes.mjs';

const [tasksArg, concurrencyArg, nodeType = 'bench.echo'] = process.argv.slice(2);
const count = Number(tasksArg ?? 20_000);
const concurrency = Number(concurrencyArg ?? 64);
const dir = process.env.BENCH_PROFILE_DIR ?? (await mkdtemp(join(tmpdir(), 'astra-prof-')));
let n = 0;
const payload = () => benchTask({ taskId: `t${++n}`, nodeType, packageName: 'bench', runId: 'prof' });
const worker = await startWorkerProcess({ cpuProfDir: dir, settings: JSON.parse(process.env.BENCH_SETTINGS ?? '{}') });
const cpu0 = await worker.cpuTime();
const run = await worker.peer.run({ count, concurrency, payload });
const cpuUs = (((await worker.cpuTime()) - cpu0) * 1000) / count;
const memory = await worker.memory();
await worker.stop();
console.log(
  `READY ${worker.readyMs.toFixed(0)} ms at ${worker.atReady.rss.toFixed(1)} MiB; ${count} × ${nodeType} at C=${concurrency}: ` +
    `${run.rate.toFixed(0)} tasks/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ${cpuUs.toFixed(0)} CPU µs/task, ` +
    `RSS ${memory.rss.toFixed(1)} MiB (peak ${memory.peak.toFixed(1)})`,
);
// CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile: thread 0 is the main thread (worker threads write their own).
const file = (await readdir(dir))
  .filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))
  .sort()
  .pop();
spawnSync(process.execPath, [fileURLToPath(new URL('./profile-top.mjs', import.meta.url)), join(dir, file), '30'], {
  stdio: 'inherit',
});
if (!process.env.BENCH_PROFILE_DIR) await rm(dir, { recursive: true, force: true });
