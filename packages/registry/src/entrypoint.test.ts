import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveEntrypoint } from './entrypoint.js';
import { removeDir, tempDir } from './fixtures.test-util.js';

let base: string;
let root: string;

beforeAll(async () => {
  base = await tempDir('entry');
  root = join(base, 'pkg');
  await mkdir(join(root, 'adapters'), { recursive: true });
  await writeFile(join(root, 'adapters', 'echo.js'), '');
  await writeFile(join(root, 'adapters', 'tools.mjs'), '');
  await writeFile(join(root, 'adapters', 'legacy.cjs'), '');
  await writeFile(join(base, 'outside.js'), '');
  await symlink(join(base, 'outside.js'), join(root, 'adapters', 'sneaky.js'));
});

afterAll(async () => {
  await removeDir(base);
});

describe('resolveEntrypoint', () => {
  it('accepts a file path relative to the package root', () => {
    expect(resolveEntrypoint(root, 'adapters/echo.js')).toEqual({
      modulePath: join(root, 'adapters', 'echo.js'),
      exportName: undefined,
    });
  });

  it('splits off the export name after ":"', () => {
    expect(resolveEntrypoint(root, 'adapters/tools.mjs:Tools')).toEqual({
      modulePath: join(root, 'adapters', 'tools.mjs'),
      exportName: 'Tools',
    });
  });

  it('maps the dotted form to a file, trying .js, .mjs, then .cjs', () => {
    expect(resolveEntrypoint(root, 'adapters.echo').modulePath).toBe(join(root, 'adapters', 'echo.js'));
    expect(resolveEntrypoint(root, 'adapters.tools:Tools')).toEqual({
      modulePath: join(root, 'adapters', 'tools.mjs'),
      exportName: 'Tools',
    });
    expect(resolveEntrypoint(root, 'adapters.legacy').modulePath).toBe(join(root, 'adapters', 'legacy.cjs'));
  });

  it('fails with E.PKG.INVALID listing what it tried when no file exists', () => {
    expect(() => resolveEntrypoint(root, 'adapters.missing')).toThrow(
      expect.objectContaining({
        code: 'E.PKG.INVALID',
        message: expect.stringContaining('adapters/missing.js, adapters/missing.mjs, adapters/missing.cjs'),
      }),
    );
  });

  it('refuses paths that leave the package with E.PKG.PERMISSION', () => {
    for (const entry of ['../outside.js', 'adapters/../../outside.js', '/etc/passwd', 'adapters/sneaky.js']) {
      expect(() => resolveEntrypoint(root, entry), entry).toThrow(expect.objectContaining({ code: 'E.PKG.PERMISSION' }));
    }
  });
});
