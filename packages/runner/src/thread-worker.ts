/**
 * The piscina worker: runs one handler per task inside a worker thread.
 * Everything the handler does towards the outside (feedback, logs, `next`)
 * is posted over the task's MessagePort; the main thread drives
 * `ctx.signal` with an `abort` message.
 */
import type { MessagePort } from 'node:worker_threads';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import type { LogLevel } from '@astraflow/protocol';
import { checkTextChunk, parseFeedbackBody } from './feedback-body.js';
import type { HandlerLoader } from './handler-resolver.js';
import { createHandlerContext } from './handler-context.js';
import { buildNextCall } from './next-call.js';
import { normalizeResult } from './normalize-result.js';
import { createPortLogger } from './port-logger.js';
import { TaskDataDir } from './task-data-dir.js';
import { toWireError } from './thread-messages.js';
import type {
  MainToThread,
  ResourceMethod,
  ThreadHandlerRef,
  ThreadReply,
  ThreadTask,
  ThreadToMain,
  WarmTask,
  WireError,
} from './thread-messages.js';
import type { HandlerResources } from './resource-registry.js';
import type { FeedbackBody, FeedbackChannelName, HandlerContext, NextOptions } from './types.js';

type Handler = (ctx: HandlerContext) => unknown;

const handlers = new Map<string, Promise<Handler>>();
const loaders = new Map<string, Promise<HandlerLoader>>();

/** The resolver's loader module (trusted code named by the resolver, never by a package), imported once per thread. */
function loaderAt(url: string): Promise<HandlerLoader> {
  let entry = loaders.get(url);
  if (entry === undefined) {
    entry = import(url).then((mod: { loadHandler?: unknown }) => {
      if (typeof mod.loadHandler !== 'function') {
        throw new AstraError(ErrorCode.RUNNER_FAILURE, `handler loader ${url} exports no loadHandler function`);
      }
      return mod.loadHandler as HandlerLoader;
    });
    entry.catch(() => loaders.delete(url));
    loaders.set(url, entry);
  }
  return entry;
}

function getHandler(task: ThreadHandlerRef): Promise<Handler> {
  const key = [task.modulePath, task.exportName ?? '', task.handlerName, task.cacheKey ?? ''].join('\u0000');
  let entry = handlers.get(key);
  if (entry === undefined) {
    // The cache key makes a re-installed package load its new files rather than Node's cached module.
    entry = loaderAt(task.loaderUrl)
      .then((loadHandler) =>
        loadHandler(task.modulePath, task.exportName, task.handlerName, {
          cacheKey: task.cacheKey,
          packageRoot: task.packageRoot,
        }),
      )
      .then(({ fn }) => fn as Handler);
    // A failed load is not cached: the next task may find the module fixed.
    entry.catch(() => handlers.delete(key));
    handlers.set(key, entry);
  }
  return entry;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: AstraError): void;
}

/** The thread's end of one task's port. */
class Bridge {
  readonly controller = new AbortController();
  readonly #port: MessagePort;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  constructor(port: MessagePort) {
    this.#port = port;
    port.on('message', (message: MainToThread) => this.#receive(message));
  }

  post(message: ThreadToMain): void {
    if (this.#closed) return;
    this.#port.postMessage(message);
  }

  request(build: (id: number) => ThreadToMain): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new AstraError(ErrorCode.RUNNER_CANCELLED, 'the task has ended'));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        this.#port.postMessage(build(id));
      } catch (error) {
        this.#pending.delete(id);
        reject(AstraError.wrap(error, ErrorCode.RUNNER_FAILURE));
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new AstraError(ErrorCode.RUNNER_CANCELLED, 'the task has ended');
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.#port.close();
  }

  #receive(message: MainToThread): void {
    if (message.t === 'abort') {
      this.controller.abort(fromWire(message.reason));
      return;
    }
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.error !== undefined) pending.reject(fromWire(message.error));
    else pending.resolve(message.t === 'feedback-done' ? undefined : message.result);
  }
}

function fromWire(error: WireError): AstraError {
  return new AstraError(error.code, error.message);
}

/** `ctx.resources` in a thread: each call is served by the registry on the main thread. */
function threadResources(bridge: Bridge): HandlerResources {
  const call =
    (method: ResourceMethod) =>
    (...args: unknown[]): Promise<never> =>
      bridge.request((id) => ({ t: 'resources', id, method, args })) as Promise<never>;
  return {
    register: call('register'),
    registerFile: call('registerFile'),
    lease: call('lease'),
    release: call('release'),
    list: call('list'),
    releaseScope: call('releaseScope'),
  };
}

function buildContext(task: ThreadTask, bridge: Bridge): HandlerContext {
  const data = task.context;
  const post = (message: ThreadToMain): void => bridge.post(message);
  const logger = createPortLogger(post, new Set<LogLevel>(data.logLevels));
  // The main thread removes the folder at task end only if it was made: tell it when it is.
  const dataDir = new TaskDataDir(data.dataDir, () => post({ t: 'data-dir' }));
  const feedback: HandlerContext['feedback'] = {
    send: async (body: FeedbackBody): Promise<void> => {
      const parsed = parseFeedbackBody(body);
      await bridge.request((id) => ({ t: 'feedback', body: parsed, id }));
    },
    sendNowait: (body: FeedbackBody): void => {
      post({ t: 'feedback', body: parseFeedbackBody(body) });
    },
    emitText: (text: string, channel: FeedbackChannelName = 'log'): void => {
      checkTextChunk(text, channel);
      post({ t: 'text', text, channel });
    },
  };
  return createHandlerContext(data, {
    dataDir,
    signal: () => bridge.controller.signal,
    logger,
    feedback: () => feedback,
    next: async (payload: Record<string, unknown>, options?: NextOptions): Promise<Record<string, unknown>> => {
      const call = buildNextCall(payload, options);
      const result = (await bridge.request((id) => ({ t: 'next', id, call }))) as Record<string, unknown> | undefined;
      return result ?? {};
    },
    resources: threadResources(bridge),
  });
}

function reply(value: ThreadReply): string {
  return JSON.stringify(value);
}

/**
 * Runs one {@link ThreadTask}; resolves with a JSON {@link ThreadReply}.
 * Never throws: failures are part of the reply so their codes survive the
 * thread boundary.
 */
export default async function runThreadTask(task: ThreadTask | WarmTask): Promise<string> {
  if ('warm' in task) return warm(task);
  const bridge = new Bridge(task.port);
  // First, so the main thread starts the handler's clock now and not while the task sat in the pool queue.
  bridge.post({ t: 'started' });
  try {
    let handler: Handler;
    try {
      handler = await getHandler(task);
    } catch (error) {
      return reply({ ok: false, stage: 'resolve', error: toWireError(error, ErrorCode.RUNNER_FAILURE) });
    }
    let value: unknown;
    try {
      value = await handler(buildContext(task, bridge));
    } catch (error) {
      return reply({ ok: false, stage: 'handler', error: toWireError(error, ErrorCode.RUNNER_FAILURE) });
    }
    try {
      return reply({ ok: true, result: normalizeResult(value) });
    } catch (error) {
      return reply({ ok: false, stage: 'result', error: toWireError(error, ErrorCode.RUNNER_FAILURE) });
    }
  } finally {
    bridge.close();
  }
}

/** Loads every listed module into this thread's cache; a module that fails is left for its first task to report. */
async function warm(task: WarmTask): Promise<string> {
  const loaded = await Promise.allSettled(task.warm.map((ref) => getHandler(ref)));
  return JSON.stringify({ warmed: loaded.filter((entry) => entry.status === 'fulfilled').length });
}
