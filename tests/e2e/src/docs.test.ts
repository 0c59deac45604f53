import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { loadSettings, settingFields } from '@astraflow/config';
import { FrameType, type ExecFeedbackPayload, type Frame } from '@astraflow/protocol';
import { ExitCode, USAGE } from '@astraflow/worker-cli';
import { createPrometheusMetrics } from '@astraflow/worker';
import { describe, expect, it } from 'vitest';
import { README_PATHS, renderReadme } from '../../../scripts/settings-table.mjs';
import { scratch, startHarness } from './harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced block right after a `<!-- marker -->` line, for every marker matching `pattern`. */
function markedBlocks(pattern: RegExp): Array<{ marker: RegExpExecArray; body: string }> {
  const blocks: Array<{ marker: RegExpExecArray; body: string }> = [];
  const re = new RegExp(`<!-- (${pattern.source}) -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\`\\n`, 'g');
  for (const m of README.matchAll(re)) {
    const marker = pattern.exec(m[1]!)!;
    blocks.push({ marker, body: m[m.length - 1]! });
  }
  return blocks;
}

/** The rows of the first Markdown table after `heading`. */
function tableAfter(heading: string): string[][] {
  const start = README.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const lines = README.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** A minimal ustar archive of regular files (names < 100 bytes), gzipped. */
function tgz(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const header = Buffer.alloc(512);
    const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'utf8');
    const octal = (offset: number, length: number, value: number) =>
      field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
    field(0, 100, name);
    octal(100, 8, 0o644);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, data.length);
    octal(136, 12, 0);
    field(148, 8, ' '.repeat(8));
    field(156, 1, '0');
    field(257, 8, 'ustar\u000000');
    let sum = 0;
    for (const byte of header) sum += byte;
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

describe('README', () => {
  it('has the settings table generated from the config schema (run `pnpm docs:settings` after changing settings)', () => {
    expect(README_PATHS).toEqual(['README.md', 'packages/config/README.md']);
    for (const relative of README_PATHS) {
      const text = readFileSync(join(ROOT, relative), 'utf8');
      expect(text, relative).toBe(renderReadme(text));
      for (const field of settingFields) expect(text, relative).toContain(`| \`${field.name}\` | \`${field.env}\` |`);
    }
  });

  it('lists exactly the exit codes of astraflow-worker', () => {
    const documented = tableAfter('### Exit codes').map((row) => Number(row[0]!.replaceAll('`', '')));
    expect(documented.sort((a, b) => a - b)).toEqual(Object.values(ExitCode).sort((a, b) => a - b));
  });

  it('lists exactly the Prometheus metrics the worker exports', async () => {
    const families = (await createPrometheusMetrics().render())
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ').slice(2, 4).join(' '));
    // prom-client's process_*/nodejs_* defaults are named in one row, not listed one by one.
    const exported = families.filter((f) => f.startsWith('astraflow_worker_')).sort();
    expect(families.some((f) => f.startsWith('process_'))).toBe(true);
    expect(families.some((f) => f.startsWith('nodejs_'))).toBe(true);
    expect(families.every((f) => /^(astraflow_worker_|process_|nodejs_)/.test(f))).toBe(true);
    expect(README).toContain('`process_*`, `nodejs_*`');
    const documented = tableAfter('Metrics (prefix')
      .map((row) => `${row[0]!.replaceAll('`', '')} ${row[1]}`)
      .sort();
    expect(documented).toEqual(exported);
  });

  it('shows the command-line options exactly as --help prints them', () => {
    const block = /```text\nUsage: astraflow-worker \[options\]\n([\s\S]*?)\n```/.exec(README);
    expect(block).not.toBeNull();
    const options = block![1]!.split('\n').filter((l) => l.trim().startsWith('-'));
    const usage = USAGE.split('\n').filter((l) => l.trim().startsWith('-'));
    expect(options).toEqual(usage);
  });

  it('says in every published package README that it is ESM only', () => {
    for (const group of ['packages', 'apps']) {
      for (const name of readdirSync(join(ROOT, group))) {
        const dir = join(ROOT, group, name);
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { private?: boolean };
        if (pkg.private) continue;
        expect(readFileSync(join(dir, 'README.md'), 'utf8'), `${group}/${name}`).toContain('**ESM only**');
      }
    }
  });

  it('only runs pnpm scripts that exist', () => {
    const rootScripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts;
    const builtins = new Set(['install', 'add', 'exec', 'dlx']);
    const filtered: Record<string, string> = { 'worker-cli': 'apps/worker-cli' };
    const commands = [...README.matchAll(/`?pnpm (--filter (\S+) )?([a-z][a-z:-]*)/g)];
    expect(commands.length).toBeGreaterThan(5);
    for (const [text, , filter, script] of commands) {
      if (filter) {
        const dir = filtered[filter];
        expect(dir, text).toBeDefined();
        const pkg = JSON.parse(readFileSync(join(ROOT, dir!, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
        expect(Object.keys(pkg.scripts), text).toContain(script);
      } else if (!builtins.has(script!)) {
        expect(Object.keys(rootScripts), text).toContain(script);
      }
    }
  });

  it('ships a sample config file and a YAML snippet that load without errors', async () => {
    const dir = await scratch('astra-docs-');
    try {
      const example = join(ROOT, 'config', 'worker.example.yaml');
      const settings = loadSettings({}, { cwd: dir, env: { ASTRA_WORKER_CONFIG_FILE: example }, defaultPaths: [] });
      expect(settings.scheduler_ws_url).toBe('wss://scheduler.example.com/ws/worker');
      expect(settings.http_enabled).toBe(true);

      const snippet = /```yaml\n([\s\S]*?)```/.exec(README);
      expect(snippet).not.toBeNull();
      const file = join(dir, 'snippet.yaml');
      await writeFile(file, snippet![1]!);
      const fromSnippet = loadSettings({}, { cwd: dir, env: { ASTRA_WORKER_CONFIG_FILE: file }, defaultPaths: [] });
      expect(fromSnippet.worker_name).toBe('worker-eu-1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('has an example package that installs and runs as documented', async () => {
    const files = markedBlocks(/file: (greet\/\S+)/);
    expect(files.map((f) => f.marker[1]).sort()).toEqual([
      'greet/adapters/greet.js',
      'greet/manifest.json',
      'greet/package.json',
    ]);
    const [expected] = markedBlocks(/result: (\S+) (\{.*\})/);
    expect(expected).toBeDefined();

    const dir = await scratch('astra-docs-');
    const h = await startHarness();
    try {
      const archive = join(dir, 'greet-1.0.0.tgz');
      await mkdir(dirname(archive), { recursive: true });
      const bytes = tgz(Object.fromEntries(files.map((f) => [f.marker[1]!, `${f.body}\n`])));
      await writeFile(archive, bytes);
      await h.worker.session.whenReady(10_000);
      const event = await h.scheduler.installPackage({
        name: 'greet',
        version: '1.0.0',
        url: pathToFileURL(archive).href,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
      expect(event.payload).toMatchObject({ status: 'installed' });

      const feedback: ExecFeedbackPayload[] = [];
      h.scheduler.onFrame((f: Frame) => {
        if (f.type === FrameType.EXEC_FEEDBACK) feedback.push(f.payload as ExecFeedbackPayload);
      });
      const [, nodeType, params] = expected!.marker;
      const answer = await h.scheduler.dispatch({
        run_id: 'docs',
        task_id: 't1',
        node_id: 'n1',
        node_type: nodeType!,
        package_name: 'greet',
        package_version: '1.0.0',
        parameters: JSON.parse(params!) as Record<string, unknown>,
        constraints: {},
      }).done;
      expect(answer.type).toBe(FrameType.EXEC_RESULT);
      expect(answer.payload).toMatchObject(JSON.parse(expected!.body) as Record<string, unknown>);
      expect(
        feedback
          .map((f) => f.progress)
          .filter((p) => p !== undefined)
          .at(-1),
      ).toBe(1);
      const stdout = feedback.flatMap((f) => f.chunks ?? []).filter((c) => c.channel === 'stdout');
      expect(stdout.map((c) => c.text).join('')).toBe('hello, Ada (1)\nhello, Ada (2)\n');
    } finally {
      await h.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/', () => {
  const doc = (name: string): string => readFileSync(join(ROOT, 'docs', name), 'utf8');

  it('names only repository files that exist', () => {
    for (const name of ['architecture.md', 'protocol.md']) {
      const paths = [...doc(name).matchAll(/`((?:packages|apps|tests|scripts)\/[\w./-]+\.(?:ts|mjs|md|json))`/g)].map(
        (m) => m[1]!,
      );
      expect(paths.length, name).toBeGreaterThan(name === 'architecture.md' ? 20 : 2);
      for (const path of paths) expect(existsSync(join(ROOT, path)), `${name}: ${path}`).toBe(true);
    }
  });

  it('answers the architecture questions, each with a file path', () => {
    const text = doc('architecture.md');
    const questions = [
      'Where is the heartbeat interval applied?',
      'Where are the per-node-type limits enforced?',
      'Where is the sha256 checked?',
      'What happens to an answer when the link is down?',
    ];
    for (const question of questions) {
      const start = text.indexOf(`**${question}**`);
      expect(start, question).toBeGreaterThanOrEqual(0);
      const answer = text.slice(start).split('\n\n')[0]!;
      expect(answer, question).toMatch(/`packages\/[\w/-]+\.ts`/);
    }
  });

  it('lists every setting in the table of where settings are applied', () => {
    const text = doc('architecture.md');
    const table = text.slice(text.indexOf('## Where each setting is applied'));
    for (const field of settingFields) expect(table, field.name).toContain(`\`${field.name}\``);
  });

  it('is what code comments cite instead of the specs outside the repository', () => {
    // git grep exits 1 when nothing matches.
    const grep = spawnSync(
      'git',
      ['grep', '-l', '-E', '(PROTOCOL|WORKER|SEED)[.]md', '--', 'packages', 'apps', 'tests', 'scripts'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(grep.status, grep.stderr).toBe(1);
    expect(grep.stdout).toBe('');
  });
});
