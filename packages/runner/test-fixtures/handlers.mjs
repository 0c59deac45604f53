// Handlers for the runner's tests. Each export is one node handler; the
// tests point RegisteredHandler.modulePath at this file so worker threads
// load the very same functions.
import { existsSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { AstraError } from '@astraflow/protocol';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function spin(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n += 1;
  return n;
}

/** Sync: returns its params and where it ran. */
export function echo(ctx) {
  return { params: ctx.params, thread: isMainThread ? 'main' : 'worker' };
}

/** Async: same as echo. */
export async function echoAsync(ctx) {
  await sleep(1);
  return { params: ctx.params, thread: isMainThread ? 'main' : 'worker' };
}

/** Returns params.value as is (result-shape tests). */
export function returnParam(ctx) {
  return ctx.params.value;
}

/** Returns a status word with one extra member. */
export function statusWord(ctx) {
  return { status: ctx.params.word, answer: 42 };
}

/** Every context field that can be compared as data. */
export async function contextDump(ctx) {
  return {
    runId: ctx.runId,
    taskId: ctx.taskId,
    nodeId: ctx.nodeId,
    nodeType: ctx.nodeType,
    packageName: ctx.packageName,
    packageVersion: ctx.packageVersion,
    params: ctx.params,
    tenant: ctx.tenant,
    dataDir: ctx.dataDir,
    hostNodeId: ctx.hostNodeId ?? null,
    middlewareChain: ctx.middlewareChain,
    chainIndex: ctx.chainIndex ?? null,
    handlerMetadata: ctx.metadata,
    resourceRefs: ctx.resourceRefs,
    workerName: ctx.workerName ?? null,
    signalAborted: ctx.signal.aborted,
    thread: isMainThread ? 'main' : 'worker',
  };
}

/** Sync twin of contextDump, so it can run in a thread under `auto`. */
export function contextDumpSync(ctx) {
  return {
    runId: ctx.runId,
    params: ctx.params,
    dataDir: ctx.dataDir,
    handlerMetadata: ctx.metadata,
    thread: isMainThread ? 'main' : 'worker',
  };
}

/** Returns a value JSON cannot carry faithfully, chosen by params.kind. */
export function unserialisable(ctx) {
  switch (ctx.params.kind) {
    case 'bigint':
      return { outputs: { big: 10n } };
    case 'circular': {
      const node = { name: 'loop' };
      node.self = node;
      return { outputs: { node } };
    }
    case 'function':
      return { outputs: { deep: { list: [1, () => 2] } } };
    case 'symbol':
      return { value: Symbol('s') };
    case 'nan':
      return { ratio: Number.NaN };
    case 'infinity':
      return { outputs: { limit: Number.POSITIVE_INFINITY } };
    case 'map':
      return { table: new Map([['a', 1]]) };
    case 'bad-artifact':
      return { outputs: {}, artifacts: [{ resource_id: 'r1', type: 'file' }] };
    default:
      throw new Error(`unknown kind ${ctx.params.kind}`);
  }
}

/** Throws an Error with params.message. */
export function throws(ctx) {
  throw new Error(ctx.params.message ?? 'boom');
}

/** Throws an AstraError with params.code. */
export async function throwsCode(ctx) {
  throw new AstraError(ctx.params.code, `failed with ${ctx.params.code}`);
}

/** Throws a string (not an Error). */
export function throwsString() {
  throw 'plain string failure';
}

/** CPU-bound for params.ms milliseconds. */
export function busy(ctx) {
  return { spins: spin(ctx.params.ms), thread: isMainThread ? 'main' : 'worker' };
}

/** Says it started (feedback), then spins like {@link busy}: lets a test wait until it holds its thread. */
export function busyAnnounced(ctx) {
  ctx.feedback.sendNowait({ stage: 'started' });
  return busy(ctx);
}

/** A busy loop that never looks at its signal and never ends. */
export function busyForever() {
  for (;;) {
    // spin
  }
}

/** Waits until its signal fires, then rejects with the signal's reason. */
export async function waitForAbort(ctx) {
  await new Promise((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });
}

/** Resolves after params.ms whatever its signal says. */
export async function ignoresSignal(ctx) {
  await sleep(ctx.params.ms);
  return { late: true };
}

/** Emits params.count text chunks without waiting, then returns. */
export function flood(ctx) {
  for (let i = 0; i < ctx.params.count; i += 1) ctx.feedback.emitText(`line ${i}`);
  return { emitted: ctx.params.count };
}

/** Mixes send / sendNowait / emitText, in a fixed order. */
export async function feedbackMix(ctx) {
  await ctx.feedback.send({ stage: 'start', progress: 0 });
  ctx.feedback.emitText('a');
  ctx.feedback.sendNowait({ progress: 0.5, message: 'half' });
  ctx.feedback.emitText('b', 'stdout');
  await ctx.feedback.send({ stage: 'end', progress: 1, metrics: { items: 2 } });
  ctx.feedback.emitText('c');
  return { ok: true };
}

/** Sync twin of the non-waiting part of feedbackMix (for thread mode under auto). */
export function feedbackNowait(ctx) {
  ctx.feedback.sendNowait({ stage: 'start' });
  ctx.feedback.emitText('a');
  ctx.feedback.emitText('b', 'stderr');
  ctx.feedback.sendNowait({ progress: 1, message: 'done' });
  return {};
}

/** Tries an invalid feedback body and reports what happened. */
export async function badFeedback(ctx) {
  const errors = [];
  try {
    ctx.feedback.sendNowait({ progress: 2 });
  } catch (error) {
    errors.push(error.message);
  }
  try {
    await ctx.feedback.send({ unknown_field: true });
  } catch (error) {
    errors.push(error.message);
  }
  try {
    ctx.feedback.emitText('x', 'nope');
  } catch (error) {
    errors.push(error.message);
  }
  return { errors };
}

/** Calls ctx.next and returns what came back (or the error code). */
export async function callsNext(ctx) {
  try {
    const reply = await ctx.next({ question: ctx.params.question }, { hostCtx: { host: 'h' }, timeoutMs: 500 });
    return { reply, thread: isMainThread ? 'main' : 'worker' };
  } catch (error) {
    return { status: 'FAILED', code: error.code, message: error.message };
  }
}

/** Writes a file into its data folder. */
export async function writesData(ctx) {
  const file = join(ctx.dataDir, 'out.txt');
  await writeFile(file, 'data');
  return { file };
}

/** Logs through ctx.logger (and a child). */
export async function logs(ctx) {
  ctx.logger.info({ step: 1 }, 'first');
  ctx.logger.child({ part: 'x' }).warn('second');
  ctx.logger.debug('hidden?');
  ctx.logger.info({ fn: () => 1 }, 'uncloneable in a thread');
  return {};
}

/** Sync twin of logs. */
export function logsSync(ctx) {
  ctx.logger.info({ step: 1 }, 'first');
  ctx.logger.child({ part: 'x' }).warn('second');
  ctx.logger.debug('hidden?');
  ctx.logger.info({ fn: () => 1 }, 'uncloneable in a thread');
  return {};
}

/** A class export whose method is the handler. */
export class Greeter {
  greet(ctx) {
    return { hello: ctx.params.name };
  }
}

/** Returns status, outputs, metadata and a valid artifact. */
export function full() {
  return {
    status: 'done',
    outputs: { text: 'hi' },
    metadata: { model: 'm1', exec_mode: 'overridden' },
    artifacts: [{ resource_id: 'r1', worker_name: 'w1', type: 'file', size_bytes: 3 }],
  };
}

/** Registers `params.id` (when given) and reports what it leased and sees, through ctx.resources. */
export async function usesResources(ctx) {
  if (typeof ctx.params.id === 'string') {
    await ctx.resources.register({ resourceId: ctx.params.id, type: 'blob', scope: 'test', metadata: { by: ctx.nodeType } });
  }
  const listed = await ctx.resources.list({ scope: 'test' });
  let missing;
  try {
    await ctx.resources.lease('no-such-resource');
  } catch (error) {
    missing = error.code;
  }
  return {
    leased: ctx.leasedResources.map((r) => `${r.resourceId}:${r.leases}`),
    listed: listed.map((r) => r.resourceId).sort(),
    missing,
  };
}

/** Sync twin of writesData, so it runs in a thread under `auto`. */
export function writesDataSync(ctx) {
  const file = join(ctx.dataDir, 'out.txt');
  writeFileSync(file, 'data');
  return { file };
}

/** Reports whether params.path exists, without reading ctx.dataDir (async: inline under `auto`). */
export async function folderExists(ctx) {
  return { existed: existsSync(ctx.params.path) };
}

/** Sync twin of folderExists, so it runs in a thread under `auto`. */
export function folderExistsSync(ctx) {
  return { existed: existsSync(ctx.params.path) };
}
