import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createResourceRegistry } from './resource-registry.js';

describe('createResourceRegistry', () => {
  it('registers, lists by scope and type, leases, releases and counts', async () => {
    const registry = createResourceRegistry({ workerName: 'w1' });
    await registry.register({ resourceId: 'a', type: 'model', scope: 'run-1', metadata: { size: 'xl' } });
    await registry.register({ resourceId: 'b', type: 'file', scope: 'run-1' });
    await registry.register({ resourceId: 'c', type: 'model', scope: 'run-2' });
    expect((await registry.list({ scope: 'run-1' })).map((r) => r.resourceId)).toEqual(['a', 'b']);
    expect((await registry.list({ type: 'model' })).map((r) => r.resourceId)).toEqual(['a', 'c']);
    const leased = await registry.lease('a');
    expect(leased).toMatchObject({ resourceId: 'a', workerName: 'w1', leases: 1, metadata: { size: 'xl' } });
    // A snapshot: changing it changes nothing inside.
    leased.metadata['size'] = 's';
    expect((await registry.list({ type: 'model' }))[0]?.metadata).toEqual({ size: 'xl' });
    expect(registry.counts()).toEqual({ held: 3, inUse: 1 });
    expect(await registry.release('a')).toBe(true);
    expect(await registry.release('a')).toBe(false);
    expect(await registry.releaseScope('run-1')).toBe(2);
    expect(registry.counts()).toEqual({ held: 1, inUse: 0 });
  });

  it('leaseRefs is all or nothing and refuses refs pinned to another worker, unknown or expired', async () => {
    let now = 1_000;
    const registry = createResourceRegistry({ workerName: 'w1', now: () => now });
    await registry.register({ resourceId: 'a', type: 't' });
    await registry.register({ resourceId: 'old', type: 't', expiresAt: 2_000 });
    const ref = (id: string, worker = 'w1') => ({ resource_id: id, worker_name: worker, type: 't' });
    const ok = registry.leaseRefs([ref('a'), ref('old')]);
    expect(ok.handles.map((h) => h.leases)).toEqual([1, 1]);
    ok.release();
    ok.release();
    expect(registry.counts().inUse).toBe(0);
    expect(() => registry.leaseRefs([ref('a'), ref('a', 'w2')])).toThrow(expect.objectContaining({ code: 'E.RESOURCE.MISSING' }));
    expect(() => registry.leaseRefs([ref('a'), ref('ghost')])).toThrow(/ghost is not registered/);
    expect(registry.counts().inUse).toBe(0);
    now = 2_000;
    expect(() => registry.leaseRefs([ref('old')])).toThrow(/old has expired/);
    expect(registry.counts()).toEqual({ held: 1, inUse: 0 });
  });

  it('registers files with their size, and refuses bad specs and growth past the limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'resources-'));
    try {
      await writeFile(join(dir, 'f.bin'), 'hello');
      const registry = createResourceRegistry({ maxResources: 2 });
      const file = await registry.registerFile({ path: join(dir, 'f.bin') });
      expect(file).toMatchObject({ type: 'file', sizeBytes: 5, path: join(dir, 'f.bin') });
      await expect(registry.registerFile({ path: join(dir, 'nope') })).rejects.toThrow(/cannot register/);
      await expect(registry.register({ resourceId: '', type: 't' })).rejects.toThrow(/resourceId/);
      await expect(registry.register({ resourceId: 'x', type: 't', metadata: { n: 1n } as never })).rejects.toThrow(
        /JSON object/,
      );
      await registry.register({ resourceId: 'x', type: 't' });
      await expect(registry.register({ resourceId: 'y', type: 't' })).rejects.toThrow(/limit of 2/);
      // Replacing an existing id is not growth.
      await registry.register({ resourceId: 'x', type: 't2' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
