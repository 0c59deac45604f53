// What the published tarballs contain and what a production install of the worker pulls in.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every publishable workspace package: its folder and name. */
function publishedPackages(): Array<{ dir: string; name: string }> {
  const dirs = [
    ...readdirSync(join(ROOT, 'packages')).map((d) => join(ROOT, 'packages', d)),
    ...readdirSync(join(ROOT, 'apps')).map((d) => join(ROOT, 'apps', d)),
  ];
  return (
    dirs
      // Only package folders: another test's scratch output may sit beside them for a moment.
      .filter((dir) => existsSync(join(dir, 'package.json')))
      .map((dir) => ({
        dir,
        pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; private?: boolean },
      }))
      .filter(({ pkg }) => pkg.private !== true)
      .map(({ dir, pkg }) => ({ dir, name: pkg.name }))
  );
}

function pnpm(args: string[], cwd: string): string {
  return execFileSync('pnpm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('published packages', () => {
  it('ship their build without test files, test helpers or build-info files', () => {
    const packages = publishedPackages();
    expect(packages.length).toBeGreaterThanOrEqual(10);
    // One recursive dry run, without lifecycle scripts: only the file selection is under test.
    const packed = JSON.parse(pnpm(['pack', '-r', '--dry-run', '--json', '--config.ignore-scripts=true'], ROOT)) as Array<{
      name: string;
      files: Array<{ path: string }>;
    }>;
    for (const { name } of packages) {
      const entry = packed.find((p) => p.name === name);
      expect(entry, name).toBeDefined();
      const paths = entry!.files.map((f) => f.path);
      expect(paths, name).toContain('dist/index.js');
      expect(paths, name).toContain('package.json');
      expect(
        paths.filter((p) => /\.test[.-]|tsbuildinfo/.test(p)),
        name,
      ).toEqual([]);
    }
  }, 60_000);

  it('leave the scheduler simulator and the in-memory transport out of a production install of @astraflow/worker', () => {
    interface Node {
      dependencies?: Record<string, Node>;
    }
    const [tree] = JSON.parse(
      pnpm(['ls', '--prod', '--depth', 'Infinity', '--json'], join(ROOT, 'packages', 'worker')),
    ) as Node[];
    const names = new Set<string>();
    const walk = (node: Node): void => {
      for (const [name, child] of Object.entries(node.dependencies ?? {})) {
        names.add(name);
        walk(child);
      }
    };
    walk(tree!);
    expect(names).toContain('@astraflow/runner');
    expect(names).not.toContain('@astraflow/scheduler-sim');
    expect(names).not.toContain('@astraflow/transport-dummy');
    expect(names).not.toContain('@astraflow/testkit');
  }, 60_000);

  it('keep the runner free of a runtime dependency on the registry', () => {
    const runner = JSON.parse(readFileSync(join(ROOT, 'packages', 'runner', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(runner.dependencies)).not.toContain('@astraflow/registry');
  });
});
