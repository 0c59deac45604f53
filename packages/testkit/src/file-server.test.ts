import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@astraflow/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer } from './file-server.js';

let base: string;
let root: string;
let server: FileServer;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'testkit-files-'));
  root = join(base, 'served');
  await mkdir(join(root, 'pkgs'), { recursive: true });
  await writeFile(join(root, 'pkgs', 'demo 1.0.0.tgz'), Buffer.from([1, 2, 3, 4]));
  await writeFile(join(base, 'secret.txt'), 'outside');
  await symlink(join(base, 'secret.txt'), join(root, 'link.txt'));
  server = await startFileServer(root);
});

afterAll(async () => {
  await server.close();
  await rm(base, { recursive: true, force: true });
});

/** GET with the path sent verbatim (fetch would normalise `..` away). */
function rawStatus(path: string): Promise<number> {
  const { hostname, port } = new URL(server.baseUrl);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('startFileServer', () => {
  it('serves files under the folder with length and type', async () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const url = server.urlFor('pkgs/demo 1.0.0.tgz');
    expect(url).toBe(`${server.baseUrl}/pkgs/demo%201.0.0.tgz`);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-length')).toBe('4');
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([1, 2, 3, 4]);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(server.requests).toContain('/pkgs/demo 1.0.0.tgz');
  });

  it('answers 404 for missing files, folders, traversal and links leaving the folder', async () => {
    for (const path of ['/missing.tgz', '/pkgs', '/pkgs/../../secret.txt', '/%2e%2e/secret.txt', '/link.txt']) {
      const res = await fetch(`${server.baseUrl}${path}`);
      expect(res.status, path).toBe(404);
      await res.arrayBuffer();
    }
    expect(await rawStatus('/%2e%2e%2fsecret.txt')).toBe(404);
    expect(await rawStatus('/pkgs/..%2f..%2fsecret.txt')).toBe(404);
    expect(await rawStatus('/pkgs/demo%201.0.0.tgz')).toBe(200);
    const post = await fetch(server.urlFor('pkgs/demo 1.0.0.tgz'), { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('refuses to serve a folder that does not exist', async () => {
    await expect(startFileServer(join(base, 'nope'))).rejects.toMatchObject({ code: ErrorCode.CONFIG_INVALID });
  });
});
