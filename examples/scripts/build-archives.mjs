// Packs every folder of packages/ into dist/archives/<name>-<version>.tgz the
// way `npm pack` does (one top-level `package/` folder), deterministically:
// sorted file list, fixed mtime, no owner/host fields. Writes index.json with
// each archive's sha256 so tests and demos can install them verbatim.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManifestSchema } from '@astraflow/protocol';
import * as tar from 'tar';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const sourcesDir = join(root, 'packages');
const outDir = join(root, 'dist', 'archives');
const FIXED_MTIME = new Date('2000-01-01T00:00:00.000Z');

async function listFiles(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

async function main() {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const index = [];
  const folders = (await readdir(sourcesDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const folder of folders) {
    const pkgDir = join(sourcesDir, folder);
    const raw = JSON.parse(await readFile(join(pkgDir, 'manifest.json'), 'utf8'));
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success) {
      throw new Error(`${folder}/manifest.json is invalid: ${parsed.error.message}`);
    }
    const { name, version } = parsed.data;
    const files = (await listFiles(pkgDir)).map((f) => relative(pkgDir, f).split(sep).join('/')).sort();
    const file = `${name}-${version}.tgz`;
    const target = join(outDir, file);
    await tar.c(
      {
        file: target,
        cwd: pkgDir,
        gzip: { level: 9 },
        portable: true,
        mtime: FIXED_MTIME,
        prefix: 'package',
        // The checkout's umask must not change the bytes: tar reuses this stat for the header.
        filter: (_path, stat) => {
          stat.mode = (stat.mode & 0o170000) | 0o644;
          return true;
        },
      },
      files,
    );
    const sha256 = createHash('sha256')
      .update(await readFile(target))
      .digest('hex');
    index.push({ name, version, file, sha256 });
  }
  index.sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name.localeCompare(b.name)));
  await writeFile(join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  console.log(`built ${index.length} sample archives in ${relative(process.cwd(), outDir) || '.'}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
