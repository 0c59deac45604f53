import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AstraError, ErrorCode, errorMessage, type ResourceRef } from '@astraflow/protocol';

/** What a handler registers (the runner README, "Resources"). */
export interface ResourceSpec {
  resourceId: string;
  type: string;
  /** A grouping label, e.g. a run id, released together with {@link ResourceRegistry.releaseScope}. */
  scope?: string;
  path?: string;
  /** JSON-safe data about the resource (it is copied, and crosses thread boundaries). */
  metadata?: Record<string, unknown>;
  sizeBytes?: number;
  /** After this instant the resource is no longer leasable (a `Date`, an ISO string or epoch ms). */
  expiresAt?: Date | string | number;
}

/** A file to register: `resourceId` defaults to a random id, `type` to `file`, `sizeBytes` to the file's size. */
export type FileResourceSpec = Omit<ResourceSpec, 'resourceId' | 'type' | 'path' | 'sizeBytes'> & {
  path: string;
  resourceId?: string;
  type?: string;
};

/** A snapshot of one registered resource: plain data, the same inline and in a thread. */
export interface ResourceHandle {
  resourceId: string;
  type: string;
  scope?: string;
  path?: string;
  metadata: Record<string, unknown>;
  sizeBytes?: number;
  /** ISO-8601. */
  expiresAt?: string;
  /** This worker's name: a `resource_refs` entry pinned to another worker never matches. */
  workerName?: string;
  /** ISO-8601. */
  createdAt: string;
  /** Leases held now (tasks running with it, plus explicit `lease()` calls not yet released). */
  leases: number;
}

/** Filter of {@link ResourceRegistry.list}. */
export interface ResourceFilter {
  scope?: string;
  type?: string;
}

/** How many resources the worker keeps, and how many of them are leased (heartbeat metrics). */
export interface ResourceCounts {
  held: number;
  inUse: number;
}

/** The resource API a handler sees as `ctx.resources`; asynchronous so it works the same from a thread. */
export interface HandlerResources {
  /** Adds (or replaces, keeping its leases) a resource; resolves with its snapshot. */
  register(spec: ResourceSpec): Promise<ResourceHandle>;
  /** Registers a file that exists; its size is read from disk. */
  registerFile(spec: FileResourceSpec): Promise<ResourceHandle>;
  /** Takes a lease; rejects with `E.RESOURCE.MISSING` when the id is unknown or expired. */
  lease(resourceId: string): Promise<ResourceHandle>;
  /** Gives one lease back; false when none was held. */
  release(resourceId: string): Promise<boolean>;
  /** Resources that are not expired, optionally of one scope and/or type. */
  list(filter?: ResourceFilter): Promise<ResourceHandle[]>;
  /** Forgets every resource of `scope`; resolves with how many went. */
  releaseScope(scope: string): Promise<number>;
}

/** The worker-local registry: the handler API plus what the runner and heartbeats need. */
export interface ResourceRegistry extends HandlerResources {
  /** Current counts. */
  counts(): ResourceCounts;
  /**
   * Leases every ref of a dispatch, all or nothing. A ref pinned to another `worker_name`, unknown
   * here or expired → `E.RESOURCE.MISSING` naming it (nothing stays leased).
   */
  leaseRefs(refs: readonly ResourceRef[]): { handles: ResourceHandle[]; release(): void };
}

/** Options of {@link createResourceRegistry}. */
export interface ResourceRegistryOptions {
  /** This worker's `worker_name`, compared with `resource_refs[].worker_name`. */
  workerName?: string;
  /** Most resources kept at once (default 10 000): a runaway handler cannot grow the registry without bound. */
  maxResources?: number;
  /** Clock (tests). */
  now?: () => number;
}

interface Entry {
  spec: Omit<ResourceHandle, 'leases' | 'expiresAt' | 'workerName'>;
  expiresAtMs: number | undefined;
  leases: number;
}

function invalid(message: string): AstraError {
  return new AstraError(ErrorCode.RUNNER_FAILURE, `resources: ${message}`);
}

function nonEmptyString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${what} must be a non-empty string`);
  return value;
}

function expiryMs(value: ResourceSpec['expiresAt']): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw invalid(`expiresAt ${String(value)} is not a date`);
  return ms;
}

/** Deep copy through JSON: metadata must be plain data, and callers never share our objects. */
function plainCopy(value: Record<string, unknown> | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  try {
    const copy = JSON.parse(JSON.stringify(value)) as unknown;
    if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) throw new Error('not an object');
    return copy as Record<string, unknown>;
  } catch (cause) {
    throw new AstraError(ErrorCode.RUNNER_FAILURE, 'resources: metadata must be a JSON object', { cause });
  }
}

/**
 * Creates the worker-local resource registry of the runner README, "Resources" (what
 * the Python worker keeps): handlers register things that outlive a task,
 * dispatches lease them through `resource_refs`, heartbeats count them.
 *
 * @example
 * ```ts
 * const resources = createResourceRegistry({ workerName: 'gpu-7' });
 * await resources.register({ resourceId: 'model-1', type: 'model', path: '/models/m1' });
 * const { handles, release } = resources.leaseRefs([{ resource_id: 'model-1', worker_name: 'gpu-7', type: 'model' }]);
 * release();
 * ```
 */
export function createResourceRegistry(options: ResourceRegistryOptions = {}): ResourceRegistry {
  const now = options.now ?? Date.now;
  const max = Math.max(1, Math.floor(options.maxResources ?? 10_000));
  const entries = new Map<string, Entry>();

  const expired = (entry: Entry): boolean => entry.expiresAtMs !== undefined && entry.expiresAtMs <= now();
  const snapshot = (entry: Entry): ResourceHandle => ({
    ...entry.spec,
    metadata: structuredClone(entry.spec.metadata),
    ...(entry.expiresAtMs !== undefined ? { expiresAt: new Date(entry.expiresAtMs).toISOString() } : {}),
    ...(options.workerName !== undefined ? { workerName: options.workerName } : {}),
    leases: entry.leases,
  });
  /** Expired resources nobody leases are dropped; leased ones stay until released. */
  const sweep = (): void => {
    for (const [id, entry] of entries) if (expired(entry) && entry.leases === 0) entries.delete(id);
  };
  const missing = (id: string, why: string): AstraError =>
    new AstraError(ErrorCode.RESOURCE_MISSING, `resource ${id} ${why}`, { details: { resource_id: id } });
  const leaseOne = (id: string): Entry => {
    const entry = entries.get(id);
    if (entry === undefined) throw missing(id, `is not registered on this worker`);
    if (expired(entry)) throw missing(id, 'has expired');
    entry.leases++;
    return entry;
  };
  const releaseOne = (id: string): boolean => {
    const entry = entries.get(id);
    if (entry === undefined || entry.leases === 0) return false;
    entry.leases--;
    return true;
  };

  function register(spec: ResourceSpec): ResourceHandle {
    if (typeof spec !== 'object' || spec === null) throw invalid('register needs an object');
    const resourceId = nonEmptyString(spec.resourceId, 'resourceId');
    const type = nonEmptyString(spec.type, 'type');
    if (spec.scope !== undefined) nonEmptyString(spec.scope, 'scope');
    if (spec.path !== undefined) nonEmptyString(spec.path, 'path');
    if (spec.sizeBytes !== undefined && !(Number.isSafeInteger(spec.sizeBytes) && spec.sizeBytes >= 0)) {
      throw invalid('sizeBytes must be a whole number ≥ 0');
    }
    sweep();
    const previous = entries.get(resourceId);
    if (previous === undefined && entries.size >= max) throw invalid(`limit of ${max} resources reached`);
    const entry: Entry = {
      spec: {
        resourceId,
        type,
        ...(spec.scope !== undefined ? { scope: spec.scope } : {}),
        ...(spec.path !== undefined ? { path: spec.path } : {}),
        metadata: plainCopy(spec.metadata),
        ...(spec.sizeBytes !== undefined ? { sizeBytes: spec.sizeBytes } : {}),
        createdAt: new Date(now()).toISOString(),
      },
      expiresAtMs: expiryMs(spec.expiresAt),
      leases: previous?.leases ?? 0,
    };
    entries.set(resourceId, entry);
    return snapshot(entry);
  }

  return {
    register: async (spec) => register(spec),
    async registerFile(spec) {
      const path = resolve(nonEmptyString(spec?.path, 'path'));
      let size: number;
      try {
        const info = await stat(path);
        if (!info.isFile()) throw new Error('not a regular file');
        size = info.size;
      } catch (cause) {
        throw new AstraError(ErrorCode.RUNNER_FAILURE, `resources: cannot register ${path}: ${errorMessage(cause)}`, { cause });
      }
      return register({ ...spec, resourceId: spec.resourceId ?? randomUUID(), type: spec.type ?? 'file', path, sizeBytes: size });
    },
    lease: async (resourceId) => snapshot(leaseOne(resourceId)),
    release: async (resourceId) => releaseOne(resourceId),
    async list(filter = {}) {
      sweep();
      return [...entries.values()]
        .filter((e) => !expired(e))
        .filter(
          (e) =>
            (filter.scope === undefined || e.spec.scope === filter.scope) &&
            (filter.type === undefined || e.spec.type === filter.type),
        )
        .map(snapshot);
    },
    async releaseScope(scope) {
      let removed = 0;
      for (const [id, entry] of entries) {
        if (entry.spec.scope === scope) {
          entries.delete(id);
          removed++;
        }
      }
      return removed;
    },
    counts() {
      sweep();
      let inUse = 0;
      for (const entry of entries.values()) if (entry.leases > 0) inUse++;
      return { held: entries.size, inUse };
    },
    leaseRefs(refs) {
      const taken: string[] = [];
      try {
        for (const ref of refs) {
          const pinned = ref.worker_name;
          if (pinned !== undefined && options.workerName !== undefined && pinned !== options.workerName) {
            throw missing(ref.resource_id, `is pinned to worker ${pinned}, not this one (${options.workerName})`);
          }
          leaseOne(ref.resource_id);
          taken.push(ref.resource_id);
        }
      } catch (error) {
        for (const id of taken) releaseOne(id);
        throw error;
      }
      const handles = taken.map((id) => snapshot(entries.get(id) as Entry));
      let released = false;
      return {
        handles,
        release() {
          if (released) return;
          released = true;
          for (const id of taken) releaseOne(id);
        },
      };
    },
  };
}
