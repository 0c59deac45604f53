import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';
import { FrameType } from '@astraflow/protocol';
import { taskDataDirPath } from '@astraflow/runner';
import { startReferenceScheduler } from '@astraflow/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { TOKEN, scratch, sleep, task } from './harness.js';

// No container engine here: this checks what can be checked without one. The Dockerfile is
// parsed, its deploy step is run as written, and its entry command is started with its
// environment (paths moved into a scratch folder) against the reference scheduler.
const ROOT = join(import.meta.dirname, '..', '..', '..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Array<[string, string]>;
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  for (const line of logical) {
    if (line === '' || line.startsWith('#')) continue;
    const [, keyword, rest] = /^(\S+)\s*(.*)$/.exec(line)!;
    const op = keyword!.toUpperCase();
    if (op === 'FROM') {
      const [image, , name] = rest!.split(/\s+/);
      stages.push({ from: image!.replace(/\$\{(\w+)\}/g, (_m, v: string) => args.get(v) ?? ''), name, instructions: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest!.split('=');
      args.set(k!, v ?? '');
    } else {
      stages.at(-1)?.instructions.push([op, rest!]);
    }
  }
  return { args, stages };
}

function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [op, rest] of stage.instructions) {
    if (op !== 'ENV') continue;
    for (const m of rest.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  return env;
}

const last = (stage: Stage, op: string): string | undefined => stage.instructions.filter(([o]) => o === op).at(-1)?.[1];

const { stages } = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

/** Removes `dir`, then each parent below the repository root that it leaves empty. */
async function removeStray(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  for (let parent = dirname(dir); parent.startsWith(`${ROOT}${sep}`); parent = dirname(parent)) {
    try {
      await rmdir(parent);
    } catch {
      return; // not empty (or gone): what is left is not ours
    }
  }
}

describe('Dockerfile', () => {
  it('builds in one stage and runs the deployed CLI on node:24-slim as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.from).toBe('node:24-slim');
    const user = last(runtime, 'USER');
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const build = stages.find(
      (s) =>
        s.name === runtime.instructions.find(([o, r]) => o === 'COPY' && r.includes('--from='))?.[1].match(/--from=(\S+)/)?.[1],
    );
    expect(build).toBeDefined();
    const runs = build!.instructions.filter(([o]) => o === 'RUN').map(([, r]) => r);
    expect(runs.some((r) => r.includes('pnpm install --frozen-lockfile'))).toBe(true);
    expect(runs.some((r) => /pnpm --filter @astraflow\/worker-cli deploy .*--prod/.test(r))).toBe(true);
  });

  it('starts node itself in exec form (signals reach the worker) with health on 0.0.0.0', () => {
    const entry = JSON.parse(last(runtime, 'ENTRYPOINT')!) as string[];
    expect(entry[0]).toBe('node');
    expect(entry[1]).toMatch(/\/bin\/astraflow-worker\.js$/);
    expect(last(runtime, 'STOPSIGNAL')).toBe('SIGTERM');
    expect(envOf(runtime)).toMatchObject({ ASTRA_WORKER_HTTP_ENABLED: 'true', ASTRA_WORKER_HTTP_HOST: '0.0.0.0' });
    expect(last(runtime, 'HEALTHCHECK')).toContain('/healthz');
  });

  it('keeps local state and build output out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['.git', '**/node_modules', '**/dist', '.env']) expect(ignored).toContain(entry);
  });

  it('its deployed CLI, started by its entry command and environment, serves tasks and drains on SIGTERM', async () => {
    const dir = await scratch('astra-image-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const build = stages.find((s) => s.name === 'build')!;
    const deployRun = build.instructions.find(([o, r]) => o === 'RUN' && r.includes(' deploy '))![1];
    const deployDir = /\s(\/\S+)\s*$/.exec(deployRun)![1]!;
    const copy = runtime.instructions.find(([o, r]) => o === 'COPY' && r.includes('--from=build'))![1].split(/\s+/);
    const appDir = copy.at(-1)!;
    const out = join(dir, 'app');
    // The Dockerfile's own deploy command, into the scratch folder instead of its /out.
    const args = deployRun
      .replace(/^pnpm\s+/, '')
      .split(/\s+/)
      .map((a) => (a === deployDir ? out : a));
    // pnpm 10 also links the deployed package's bins at the target path taken relative to the
    // package folder (apps/worker-cli/<ROOT→out>): remove that stray copy too.
    const stray = resolve(ROOT, 'apps', 'worker-cli', relative(ROOT, out));
    // Its parent carries the scratch folder's unique name, so removing it touches nothing else; the
    // folders above it that pnpm made for it are removed while empty.
    if (stray !== out) cleanups.push(() => removeStray(dirname(stray)));
    execFileSync('pnpm', args, { cwd: ROOT, stdio: 'ignore' });
    expect(existsSync(join(out, 'node_modules', '@astraflow', 'worker', 'dist', 'index.js'))).toBe(true);

    const state = join(dir, 'state');
    await mkdir(state);
    const imageEnv = envOf(runtime);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ASTRA_') && v !== undefined) env[k] = v;
    for (const [k, v] of Object.entries(imageEnv)) env[k] = v.replace('/var/lib/astraflow', state);
    const s = await startReferenceScheduler({ token: TOKEN, seed: 5 });
    cleanups.push(() => s.close());
    const files = await s.serveFiles(sampleArchivesDir);
    Object.assign(env, {
      ASTRA_WORKER_SCHEDULER_WS_URL: s.url,
      ASTRA_WORKER_AUTH_TOKEN: TOKEN,
      ASTRA_WORKER_HTTP_PORT: '0', // the image's 9464 may be taken on a shared machine
      ASTRA_WORKER_SHUTDOWN_GRACE_SECONDS: '20',
      // A config file of its own, so no /etc/astraflow/worker.yaml of this machine leaks in.
      ASTRA_WORKER_CONFIG_FILE: join(state, 'worker.yaml'),
    });
    await writeFile(join(state, 'worker.yaml'), 'heartbeat_interval_seconds: 1\n');
    const entry = (JSON.parse(last(runtime, 'ENTRYPOINT')!) as string[]).map((a) => a.replace(appDir, out));
    const child = spawn(entry[0] === 'node' ? process.execPath : entry[0]!, entry.slice(1), {
      cwd: state,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    await s.waitForSession(undefined, 15_000);
    const lines = () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    while (!lines().some((l) => l['msg'] === 'health endpoint listening')) await sleep(20);
    const url = String(lines().find((l) => l['msg'] === 'health endpoint listening')!['url']);
    expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    const port = new URL(url).port;
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    const archive = sampleArchive('samples', '1.0.0');
    const installed = await s.installPackage({
      name: 'samples',
      version: '1.0.0',
      url: `${files.baseUrl.replace(/\/$/, '')}/${archive.path.slice(sampleArchivesDir.length).replace(/^\/+/, '')}`,
      sha256: archive.sha256,
    });
    expect(installed.payload).toMatchObject({ status: 'installed' });
    expect(existsSync(join(state, 'node-packages'))).toBe(true);

    const slow = task('samples.slow', { ms: 1000 });
    const running = s.dispatch(slow);
    const ledger = join(taskDataDirPath(join(state, 'data'), slow.run_id, slow.task_id), 'runs.log');
    while (!existsSync(ledger)) await sleep(20);
    child.kill('SIGTERM');
    const answer = await running.done;
    expect(answer.type).toBe(FrameType.EXEC_RESULT);
    expect(answer.payload).toMatchObject({ status: 'SUCCEEDED' });
    expect(await exited).toBe(0);
    expect(lines().some((l) => l['msg'] === 'draining: no new tasks')).toBe(true);
    expect(lines().every((l) => typeof l['level'] === 'string' && 'worker_name' in l && 'tenant' in l)).toBe(true);
    expect(stdout).not.toContain(TOKEN);
  });
});
