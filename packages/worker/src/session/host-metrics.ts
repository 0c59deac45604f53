import { existsSync, statfsSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { dirname } from 'node:path';

/** Host load figures carried in heartbeats. */
export interface HostMetrics {
  cpu_pct: number;
  mem_pct: number;
  disk_pct: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * Samples this process's CPU share (since the previous sample, across all
 * cores), host memory use, and the fill level of the filesystem holding
 * `dataDir` (its nearest existing ancestor before the folder is created).
 */
export class HostMetricsSampler {
  #lastCpu = process.cpuUsage();
  #lastAt = process.hrtime.bigint();
  readonly #cores = Math.max(1, cpus().length);

  constructor(readonly dataDir: string) {}

  sample(): HostMetrics {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const elapsedUs = Number(now - this.#lastAt) / 1000;
    const usedUs = cpu.user - this.#lastCpu.user + (cpu.system - this.#lastCpu.system);
    this.#lastCpu = cpu;
    this.#lastAt = now;
    const cpuPct = elapsedUs > 0 ? (usedUs / elapsedUs / this.#cores) * 100 : 0;
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
