import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@astraflow/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTlsFiles } from './tls-files.js';
import { rejection } from './test-peers.test.helpers.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'astraflow-tls-files-'));
  writeFileSync(join(dir, 'ca.pem'), PEM);
  writeFileSync(join(dir, 'cert.pem'), PEM);
  writeFileSync(join(dir, 'key.pem'), KEY);
  writeFileSync(join(dir, 'cert.der'), Buffer.from([0x30, 0x82, 0x01, 0x0a]));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('readTlsFiles', () => {
  it('reads the given PEM files and leaves the others out', async () => {
    expect(await readTlsFiles({ caFile: join(dir, 'ca.pem') })).toEqual({ ca: PEM });
    expect(
      await readTlsFiles({ caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') }),
    ).toEqual({ ca: PEM, cert: PEM, key: KEY });
    expect(await readTlsFiles({})).toEqual({});
  });

  it('names a file that cannot be read', async () => {
    const missing = join(dir, 'missing.pem');
    const err = await rejection(readTlsFiles({ caFile: missing }));
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(err.message).toContain(missing);
    expect(err.message).toContain('caFile');
    expect(err.details).toMatchObject({ field: 'caFile', path: missing });
  });

  it('refuses a file without a PEM block', async () => {
    const err = await rejection(readTlsFiles({ caFile: join(dir, 'cert.der') }));
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(err.message).toMatch(/no PEM block/);
  });

  it('refuses a certificate without its key, and a key without its certificate', async () => {
    const a = await rejection(readTlsFiles({ certFile: join(dir, 'cert.pem') }));
    expect(a.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(a.message).toMatch(/keyFile/);
    const b = await rejection(readTlsFiles({ keyFile: join(dir, 'key.pem') }));
    expect(b.message).toMatch(/certFile/);
  });
});
