// The one summary table `pnpm bench` prints (Markdown, so a run can be pasted
// into the README as it is).

const num = (n, digits = 2) => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(digits)) : '–');
const x = (ours, base) => (Number.isFinite(ours) && Number.isFinite(base) && base > 0 ? `${(ours / base).toFixed(2)}×` : '–');
const verdicts = (targets = []) => targets.map((t) => `${t.what}: ${t.ok ? 'met' : '**MISSED**'}`).join('; ');

/**
 * Prints the summary: like-for-like rows (worker vs the same-run ceiling),
 * then single figures with their targets, then the in-process micro
 * benchmarks (ratios to their own baselines).
 */
export function printSummary({ likeForLike, rows, seconds }) {
  const lines = [
    '| benchmark | C | tasks/s | × ceiling | p50 ms (× ceiling) | p99 ms (× ceiling) | RSS MiB (× ceiling) | CPU µs/task (× ceiling) | target | note |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of likeForLike) {
    if (r.c !== undefined) {
      const b = r.ceiling ?? {};
      lines.push(
        `| ${r.name} | ${r.c} | ${num(r.rate)} | ${x(r.rate, b.rate)} | ${num(r.p50)} (${x(r.p50, b.p50)}) | ${num(r.p99)} (${x(r.p99, b.p99)}) | ${num(r.rss, 1)} (${x(r.rss, b.rss)}) | ${num(r.cpuUs, 0)} (${x(r.cpuUs, b.cpuUs)}) | ${verdicts(r.targets)} | ${r.note ?? ''} |`,
      );
    }
  }
  for (const r of likeForLike) {
    if (r.c === undefined)
      lines.push(`| ${r.name} | | ${num(r.value, 1)} ${r.unit} | | | | | | ${verdicts(r.targets)} | ${r.note ?? ''} |`);
  }
  const ceilings = likeForLike.filter((r) => r.c !== undefined && r.name.startsWith('echo, inline (')).map((r) => r.ceiling);
  for (const [i, b] of ceilings.entries()) {
    lines.push(
      `| ceiling responder (same protocol, same ws) | ${[1, 16, 64][i]} | ${num(b.rate)} | 1× | ${num(b.p50)} | ${num(b.p99)} | ${num(b.rss, 1)} | ${num(b.cpuUs, 0)} | | |`,
    );
  }
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `${r.ratio.toFixed(3)}× baseline (${num(r.baseline)} ${r.unit})`;
    lines.push(`| ${r.name} | | ${num(r.value)} ${r.unit} | ${ratio} | | | | | | ${r.note ?? ''} |`);
  }
  const missed = likeForLike.flatMap((r) => r.targets ?? []).filter((t) => !t.ok).length;
  console.log(
    `\nAstraFlow worker benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${seconds.toFixed(0)} s\n`,
  );
  console.log(lines.join('\n'));
  console.log(`\n${missed === 0 ? 'every target met' : `${missed} target(s) missed`}\n`);
}
