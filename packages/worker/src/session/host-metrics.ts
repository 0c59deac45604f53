import { existsSync, statfsSync } from 'node:fs';
import { cpus, freemem, totalmem, type CpuInfo } from 'node:os';
import { dirname } from 'node:path';

/** Host load figures carried in heartbeats. */
export interface HostMetrics {
  cpu_pct: number;
  mem_pct: number;
  disk_pct: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Busy and total CPU time of the host, summed over its cores (ms). */
function hostCpuTimes(cores: readonly CpuInfo[] = cpus()): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cores) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/**
 * Samples the host's CPU use (busy share of all cores since the previous
 * sample, as the Python worker reports it: the scheduler balances on host
 * load, not on this process's share), host memory use, and the fill level of
 * the filesystem holding `dataDir` (its nearest existing ancestor before the
 * folder is created).
 */
export class HostMetricsSampler {
  #lastCpu = hostCpuTimes();

  constructor(readonly dataDir: string) {}

  sample(): HostMetrics {
    const cpu = hostCpuTimes();
    const total = cpu.total - this.#lastCpu.total;
    const busy = cpu.busy - this.#lastCpu.busy;
    this.#lastCpu = cpu;
    const cpuPct = total > 0 ? Math.min(100, (busy / total) * 100) : 0;
    const memPct = ((totalmem() - freemem()) / totalmem()) * 100;
    return { cpu_pct: round1(Math.max(0, cpuPct)), mem_pct: round1(memPct), disk_pct: round1(this.#diskPct()) };
  }

  #diskPct(): number {
    let dir = this.dataDir;
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
    try {
      const fs = statfsSync(dir);
      return fs.blocks > 0 ? ((fs.blocks - fs.bavail) / fs.blocks) * 100 : 0;
    } catch {
      return 0;
    }
  }
}
