import type { ContextData } from './execution.js';
import type { HandlerResources } from './resource-registry.js';
import { keepTaskDataDir } from './task-data-lifecycle.js';
import type { HandlerContext } from './types.js';

/** The callable parts of a ctx: what differs between running inline and in a worker thread. */
export interface HandlerContextParts {
  /** The task's folder; created on the first read of `ctx.dataDir` (or `keepDataDir()`). */
  dataDir: { ensure(): string };
  /** Called on every read of `ctx.signal`, so a mode may make the signal only when a handler asks for it. */
  signal(): AbortSignal;
  logger: HandlerContext['logger'];
  /** Called on every read of `ctx.feedback`; must return the same object each time. */
  feedback(): HandlerContext['feedback'];
  next: HandlerContext['next'];
  resources: HandlerResources;
}

/**
 * Builds the `ctx` a handler receives, in either execution mode. Fields are
 * listed one by one (no spread) so every ctx shares one shape; the parts most
 * handlers never touch (folder, signal, feedback) are reached through getters.
 */
export function createHandlerContext(data: ContextData, parts: HandlerContextParts): HandlerContext {
  return {
    runId: data.runId,
    taskId: data.taskId,
    nodeId: data.nodeId,
    nodeType: data.nodeType,
    packageName: data.packageName,
    packageVersion: data.packageVersion,
    params: data.params,
    tenant: data.tenant,
    get dataDir(): string {
      return parts.dataDir.ensure();
    },
    hostNodeId: data.hostNodeId,
    middlewareChain: data.middlewareChain,
    chainIndex: data.chainIndex,
    metadata: data.metadata,
    resourceRefs: data.resourceRefs,
    leasedResources: data.leasedResources,
    workerName: data.workerName,
    get signal(): AbortSignal {
      return parts.signal();
    },
    logger: parts.logger,
    get feedback(): HandlerContext['feedback'] {
      return parts.feedback();
    },
    next: parts.next,
    resources: parts.resources,
    keepDataDir: () => keepTaskDataDir(parts.dataDir.ensure()),
  };
}
