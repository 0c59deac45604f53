import { spawn } from 'node:child_process';
import { startWorkerProcess } from './_p.mjs';
let n = 0;
const payload = () => ({ run_id: 'bench', task_id: `t${++n}`, node_id: 'n', node_type: 'bench.echo', package_name: 'bench', package_version: '1.0.0', parameters: { message: 'hello' }, constraints: {} });
const w = await startWorkerProcess({ settings: JSON.parse(process.argv[2] ?? '{}') });
const r = await w.peer.run({ count: 100000, concurrency: 64, payload });
for (const s of [2]) { await new Promise(r => setTimeout(r, s===2?2000:(s===5?3000:(s===10?5000:10000)))); console.log(s, (await w.memory()).rss.toFixed(1)); }
const m = await w.memory();
console.log(process.env.NODE_OPTIONS ?? '-', 'ready', w.atReady.rss.toFixed(1), 'after', m.rss.toFixed(1), 'peak', m.peak.toFixed(1), 'rate', r.rate.toFixed(0), 'p99', r.p99.toFixed(1));
await w.stop();
