import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { AstraError, ErrorCode, errorMessage, PkgInstallPayloadSchema } from '@astraflow/protocol';
import { inspectPackageFolder, type PackageInspection } from '@astraflow/registry';
import * as tar from 'tar';
import { catalogProblems } from './catalog-schema.js';

export { PACKAGE_COMMANDS } from './package-command-names.js';

/** Fixed archive timestamp: the same folder always packs to the same bytes. */
const FIXED_MTIME = new Date('2000-01-01T00:00:00.000Z');

/** What a package subcommand printed, and how it ended. */
export interface PackageToolResult {
  /** Lines for stdout. */
  out: string[];
  /** 0 on success; 1 when the package is refused. */
  code: number;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Version-control folders never belong in a package.
    if (entry.isDirectory() && (entry.name === '.git' || entry.name === '.hg')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

function describe(found: PackageInspection): string[] {
  const lines = [
    `ok: ${found.name}@${found.version} (runtime ${found.runtime}${found.runnable ? '' : ', listed only: this worker does not run it'}; ` +
      `${found.nodeTypes.length} node types: ${found.nodeTypes.join(', ')})`,
  ];
  const problems = catalogProblems(found.manifest);
  lines.push(
    problems.length === 0
      ? "catalog: the manifest passes the scheduler's manifest schema"
      : `catalog: the scheduler's catalog would refuse this manifest (fine for packages that never reach it): ${problems.join('; ')}`,
  );
  return lines;
}

/**
 * Runs `validate <dir>` or `pack <dir>`; `argv` starts with the command.
 * Throws `E.CONFIG.INVALID` for a bad command line; a package the install
 * would refuse throws its `E.PKG.*` error.
 */
export async function runPackageTool(argv: readonly string[], cwd: string): Promise<PackageToolResult> {
  let parsed: { values: { out?: string | undefined; url?: string | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv.slice(1)],
      strict: true,
      allowPositionals: true,
      options: { out: { type: 'string' }, url: { type: 'string' } },
    });
  } catch (err) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `${errorMessage(err)} (see --help)`);
  }
  const command = argv[0];
  const [dirArg, ...extra] = parsed.positionals;
  if (dirArg === undefined || extra.length > 0) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `${command} needs exactly one package folder (see --help)`);
  }
  if (command === 'validate' && (parsed.values.out !== undefined || parsed.values.url !== undefined)) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, 'validate takes no --out or --url (see --help)');
  }
  const dir = resolve(cwd, dirArg);
  const found = await inspectPackageFolder(dir);
  const out = describe(found);
  if (command === 'validate') return { out, code: 0 };

  const target = resolve(cwd, parsed.values.out ?? `${found.name}-${found.version}.tgz`);
  const files = (await listFiles(dir)).map((f) => relative(dir, f).split(sep).join('/')).sort();
  if (files.some((f) => target === resolve(dir, f))) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `--out ${target} lies inside the package folder`);
  }
  await tar.c(
    {
      file: target,
      cwd: dir,
      gzip: { level: 9 },
      portable: true,
      mtime: FIXED_MTIME,
      prefix: 'package',
      // The umask of the author's checkout must not change the bytes.
      filter: (_path, stat) => {
        stat.mode = ((stat.mode ?? 0o100000) & 0o170000) | 0o644;
        return true;
      },
    },
    files,
  );
  const sha256 = createHash('sha256')
    .update(await readFile(target))
    .digest('hex');
  const payload = { name: found.name, version: found.version, url: parsed.values.url ?? pathToFileURL(target).href, sha256 };
  const checked = PkgInstallPayloadSchema.safeParse(payload);
  if (!checked.success) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `--url ${String(parsed.values.url)} is not an absolute URI`);
  }
  out.push(`archive: ${target} (${files.length} files)`, `sha256: ${sha256}`, `biz.pkg.install: ${JSON.stringify(checked.data)}`);
  return { out, code: 0 };
}
