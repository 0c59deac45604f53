import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scrubSecretEnv } from './secret-env.js';

// The guard and the watchdog act on the whole process, so they are tried in a child running the built package.
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function runChild(
  script: string,
  timeoutMs = 20_000,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `import * as w from ${JSON.stringify(DIST)};\n${script}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('guardProcessExit', () => {
  it('turns process.exit, reallyExit and abort into E.RUNNER.FAILURE throws; exitProcess still exits', async () => {
    const { code, stdout } = await runChild(`
      w.guardProcessExit();
      for (const call of [() => process.exit(3), () => process.reallyExit(3), () => process.abort()]) {
        try { call(); console.log('not thrown'); } catch (err) { console.log(err.code); }
      }
      w.exitProcess(5);
    `);
    expect(stdout.trim().split('\n')).toEqual(['E.RUNNER.FAILURE', 'E.RUNNER.FAILURE', 'E.RUNNER.FAILURE']);
    expect(code).toBe(5);
  });
});

describe('startWatchdog', () => {
  it('ends a process whose event loop is blocked with the exit code and one line naming the running tasks', async () => {
    const started = Date.now();
    const { code, signal, stdout } = await runChild(`
      w.guardProcessExit();
      const dog = w.startWatchdog({ timeoutMs: 800, exitCode: 70 });
      dog.setRunningTasks([{ task_id: 't-1', run_id: 'r-1', node_type: 'spin.spin' }]);
      setTimeout(() => { for (;;) {} }, 300);
    `);
    expect({ code, signal }).toEqual({ code: 70, signal: null });
    expect(Date.now() - started).toBeLessThan(8000);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 60,
      component: 'watchdog',
      exit_code: 70,
      running_tasks: [{ task_id: 't-1', run_id: 'r-1', node_type: 'spin.spin' }],
    });
  });

  it('leaves a process alone whose loop keeps turning, and lets it exit once stopped', async () => {
    const { code, stdout } = await runChild(`
      const dog = w.startWatchdog({ timeoutMs: 600, exitCode: 70 });
      let n = 0;
      const t = setInterval(() => { n += 1; }, 50);
      setTimeout(async () => { clearInterval(t); await dog.stop(); console.log('ok', n > 10); }, 2000);
    `);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('ok true');
  });
});

describe('scrubSecretEnv', () => {
  it('removes every ASTRA_WORKER_* variable and keeps the rest', () => {
    const env: NodeJS.ProcessEnv = {
      ASTRA_WORKER_AUTH_TOKEN: 's',
      ASTRA_WORKER_TENANT: 't',
      PATH: '/bin',
      ASTRA_PACKAGES_ROOT: '/p',
    };
    expect(scrubSecretEnv(env).sort()).toEqual(['ASTRA_WORKER_AUTH_TOKEN', 'ASTRA_WORKER_TENANT']);
    expect(env).toEqual({ PATH: '/bin', ASTRA_PACKAGES_ROOT: '/p' });
  });
});
