import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AstraError } from '@astraflow/protocol';
import type { ExecDispatchPayload } from '@astraflow/protocol';
import type { ResolvedHandler } from './handler-resolver.js';
import {
  createFixtureResolver,
  createRecordingLogger,
  dispatchFor,
  fixtureHandler,
  type FixtureResolver,
} from './fixtures.test-helper.js';
import { createRunner } from './runner.js';
import { taskDataDirPath } from './task-data-dir.js';
import type { FeedbackBody, NextCall, RunOutcome, RunTask, Runner } from './types.js';

let dataRoot: string;
let resolver: FixtureResolver;
let runner: Runner;
const logger = createRecordingLogger(['info', 'warn', 'error', 'fatal']);

/** Sync fixtures registered a second time with a forced mode, to run each in both modes. */
const SYNC = [
  'echo',
  'returnParam',
  'statusWord',
  'unserialisable',
  'throws',
  'throwsString',
  'busy',
  'flood',
  'feedbackNowait',
  'logsSync',
];
const ASYNC = [
  'echoAsync',
  'contextDump',
  'throwsCode',
  'waitForAbort',
  'ignoresSignal',
  'feedbackMix',
  'badFeedback',
  'callsNext',
  'writesData',
  'logs',
  'usesResources',
];

beforeAll(async () => {
  dataRoot = await mkdtemp(path.join(tmpdir(), 'runner-test-'));
  const handlers: ResolvedHandler[] = [];
  for (const name of [...SYNC, ...ASYNC, 'contextDumpSync', 'busyForever', 'full']) {
    handlers.push(await fixtureHandler(name));
    handlers.push(await fixtureHandler(name, { nodeType: `${name}.inline`, execMode: 'inline' }));
    handlers.push(await fixtureHandler(name, { nodeType: `${name}.thread`, execMode: 'thread' }));
  }
  handlers.push(await fixtureHandler('greet', { exportName: 'Greeter', nodeType: 'greeter.thread', execMode: 'thread' }));
  handlers.push(await fixtureHandler('greet', { exportName: 'Greeter', nodeType: 'greeter.inline', execMode: 'inline' }));
  resolver = createFixtureResolver(handlers);
  runner = createRunner({
    resolver,
    dataDir: path.join(dataRoot, 'data'),
    workerName: 'w-test',
    logger,
    threads: { maxThreads: 2 },
  });
});

afterAll(async () => {
  await runner.close();
  await rm(dataRoot, { recursive: true, force: true });
});

interface Ran {
  outcome: RunOutcome;
  frames: FeedbackBody[];
  /** Feedback frames and the outcome, in the order the worker saw them. */
  events: string[];
  nextCalls: NextCall[];
}

async function run(
  nodeType: string,
  parameters: Record<string, unknown> = {},
  options: Partial<Omit<RunTask, 'dispatch'>> & { dispatch?: Partial<ExecDispatchPayload>; sinkDelayMs?: number } = {},
): Promise<Ran> {
  const frames: FeedbackBody[] = [];
  const events: string[] = [];
  const nextCalls: NextCall[] = [];
  const { dispatch: overrides, sinkDelayMs, ...rest } = options;
  const outcome = await runner.run({
    dispatch: dispatchFor(nodeType, parameters, overrides),
    tenant: 'acme',
    emitFeedback: async (body) => {
      if (sinkDelayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, sinkDelayMs));
      frames.push(body);
      events.push('feedback');
    },
    next: async (call) => {
      nextCalls.push(call);
      return { answer: `re: ${String(call.payload.question)}` };
    },
    ...rest,
  });
  events.push(outcome.kind);
  return { outcome, frames, events, nextCalls };
}

function expectResult(outcome: RunOutcome) {
  if (outcome.kind !== 'result') throw new Error(`expected a result, got ${JSON.stringify(outcome.payload)}`);
  return outcome;
}

function expectError(outcome: RunOutcome) {
  if (outcome.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(outcome.payload)}`);
  return outcome;
}

describe('createRunner: results', () => {
  it('passes the full context to an inline handler', async () => {
    const dispatch = {
      run_id: 'r-ctx',
      task_id: 't-ctx',
      host_node_id: 'host-1',
      middleware_chain: ['m1', 'm2'],
      chain_index: 1,
      resource_refs: [{ resource_id: 'res', worker_name: 'w-test', type: 'blob' }],
    };
    // A ref must name a resource registered on this worker (the runner README, "Resources").
    expectResult((await run('usesResources', { id: 'res' })).outcome);
    const { outcome } = await run('contextDump', { p: 1 }, { dispatch });
    const result = expectResult(outcome);
    expect(result.execMode).toBe('inline');
    expect(result.payload.result).toEqual({
      runId: 'r-ctx',
      taskId: 't-ctx',
      nodeId: expect.any(String),
      nodeType: 'contextDump',
      packageName: 'fixtures',
      packageVersion: '1.0.0',
      params: { p: 1 },
      tenant: 'acme',
      dataDir: path.join(dataRoot, 'data', 'r-ctx', 't-ctx'),
      hostNodeId: 'host-1',
      middlewareChain: ['m1', 'm2'],
      chainIndex: 1,
      handlerMetadata: { source: 'fixture' },
      resourceRefs: dispatch.resource_refs,
      workerName: 'w-test',
      signalAborted: false,
      thread: 'main',
    });
  });

  it('passes the context data to a thread handler too', async () => {
    const { outcome } = await run('contextDumpSync', { p: 2 }, { dispatch: { run_id: 'r-t', task_id: 't-t' } });
    const result = expectResult(outcome);
    expect(result.execMode).toBe('thread');
    expect(result.payload.result).toEqual({
      runId: 'r-t',
      params: { p: 2 },
      dataDir: path.join(dataRoot, 'data', 'r-t', 't-t'),
      handlerMetadata: { source: 'fixture' },
      thread: 'worker',
    });
  });

  it('auto runs sync handlers in a thread and async handlers inline; explicit modes win', async () => {
    expect(expectResult((await run('echo')).outcome).payload.result.thread).toBe('worker');
    expect(expectResult((await run('echoAsync')).outcome).payload.result.thread).toBe('main');
    expect(expectResult((await run('echo.inline')).outcome).payload.result.thread).toBe('main');
    expect(expectResult((await run('echoAsync.thread')).outcome).payload.result.thread).toBe('worker');
  });

  it('uses the default exec mode when the node names none', async () => {
    const handler = await fixtureHandler('echoAsync');
    const local = createRunner({ resolver: createFixtureResolver([handler]), dataDir: dataRoot, defaultExecMode: 'thread' });
    try {
      const outcome = await local.run({
        dispatch: dispatchFor('echoAsync'),
        tenant: 't',
        emitFeedback: async () => {},
        next: async () => ({}),
      });
      expect(expectResult(outcome).payload.result.thread).toBe('worker');
    } finally {
      await local.close();
    }
  });

  it('builds the result payload: status, outputs, integer duration, merged metadata, artifacts', async () => {
    for (const mode of ['inline', 'thread']) {
      const { outcome } = await run(`full.${mode}`);
      const { payload } = expectResult(outcome);
      expect(payload.status).toBe('SUCCEEDED');
      expect(payload.result).toEqual({ text: 'hi' });
      expect(Number.isInteger(payload.duration_ms)).toBe(true);
      expect(payload.metadata).toEqual({
        exec_mode: 'overridden',
        node_type: `full.${mode}`,
        package: 'fixtures@1.0.0',
        model: 'm1',
      });
      expect(payload.artifacts).toEqual([{ resource_id: 'r1', worker_name: 'w1', type: 'file', size_bytes: 3 }]);
    }
    const { payload } = expectResult((await run('echo.thread')).outcome);
    expect(payload.metadata).toEqual({ exec_mode: 'thread', node_type: 'echo.thread', package: 'fixtures@1.0.0' });
  });

  it.each([
    ['SUCCESS', 'SUCCEEDED'],
    ['Succeeded', 'SUCCEEDED'],
    ['ok', 'SUCCEEDED'],
    ['done', 'SUCCEEDED'],
    ['ALLOWED', 'SUCCEEDED'],
    ['blocked', 'SUCCEEDED'],
    ['error', 'FAILED'],
    ['FAIL', 'FAILED'],
    ['failed', 'FAILED'],
    ['cancel', 'CANCELLED'],
    ['Cancelled', 'CANCELLED'],
    ['canceled', 'CANCELLED'],
    ['skip', 'SKIPPED'],
    ['SKIPPED', 'SKIPPED'],
    [undefined, 'SUCCEEDED'],
  ])('maps status %s to %s (inline and thread)', async (word, status) => {
    for (const mode of ['inline', 'thread']) {
      const { payload } = expectResult((await run(`statusWord.${mode}`, word === undefined ? {} : { word })).outcome);
      expect(payload.status).toBe(status);
      expect(payload.result).toEqual({ answer: 42 });
      expect(payload.error).toBeUndefined();
    }
  });

  it('answers an unknown status word with FAILED and an explanation', async () => {
    const { payload } = expectResult((await run('statusWord.thread', { word: 'whatever' })).outcome);
    expect(payload.status).toBe('FAILED');
    expect(payload.error).toEqual({ code: 'E.RUNNER.FAILURE', message: expect.stringContaining('whatever') });
  });

  it.each([
    ['text', { value: 'text' }],
    [3.5, { value: 3.5 }],
    [null, {}],
    [[1, 2], { value: [1, 2] }],
    [{ a: 1, status: 'ok', metadata: { m: 1 } }, { a: 1 }],
    [{ outputs: { o: true }, ignored: 1 }, { o: true }],
  ])('normalises the return value %j', async (value, outputs) => {
    for (const mode of ['inline', 'thread']) {
      const { payload } = expectResult((await run(`returnParam.${mode}`, { value })).outcome);
      expect(payload.result).toEqual(outputs);
    }
  });

  it('turns an undefined return into empty outputs', async () => {
    for (const mode of ['inline', 'thread']) {
      expect(expectResult((await run(`returnParam.${mode}`)).outcome).payload.result).toEqual({});
    }
  });

  it('calls a method of a class export, in both modes', async () => {
    for (const mode of ['inline', 'thread']) {
      expect(expectResult((await run(`greeter.${mode}`, { name: 'ada' })).outcome).payload.result).toEqual({ hello: 'ada' });
    }
  });
});

describe('createRunner: failures', () => {
  it.each(['bigint', 'circular', 'function', 'symbol', 'nan', 'infinity', 'map', 'bad-artifact'])(
    'answers E.RUNNER.FAILURE for unserialisable outputs (%s)',
    async (kind) => {
      for (const mode of ['inline', 'thread']) {
        const { outcome } = await run(`unserialisable.${mode}`, { kind });
        const { payload, execMode } = expectError(outcome);
        expect(execMode).toBe(mode);
        expect(payload.code).toBe('E.RUNNER.FAILURE');
        expect(payload.context?.where).toBe('runner.result');
        expect(payload.message).toMatch(/handler result/);
      }
    },
  );

  it('answers a throwing handler with E.RUNNER.FAILURE and its message', async () => {
    for (const mode of ['inline', 'thread']) {
      const dispatch = { run_id: 'r-throw', task_id: 't-throw', node_id: 'n-throw' };
      const { payload } = expectError((await run(`throws.${mode}`, { message: 'kaput' }, { dispatch })).outcome);
      expect(payload).toEqual({
        code: 'E.RUNNER.FAILURE',
        message: 'kaput',
        context: {
          where: 'runner.handler',
          details: { run_id: 'r-throw', task_id: 't-throw', node_id: 'n-throw', node_type: `throws.${mode}` },
        },
      });
      const fromString = expectError((await run(`throwsString.${mode}`)).outcome).payload;
      expect(fromString.message).toBe('plain string failure');
    }
  });

  it('keeps protocol codes of a thrown AstraError and replaces the others', async () => {
    for (const mode of ['inline', 'thread']) {
      expect(expectError((await run(`throwsCode.${mode}`, { code: 'E.RESOURCE.MISSING' })).outcome).payload.code).toBe(
        'E.RESOURCE.MISSING',
      );
      const local = expectError((await run(`throwsCode.${mode}`, { code: 'E.PKG.NOT_FOUND' })).outcome).payload;
      expect(local.code).toBe('E.RUNNER.FAILURE');
      expect(local.message).toBe('failed with E.PKG.NOT_FOUND');
      expect(expectError((await run(`throwsCode.${mode}`, { code: 'MY.CODE' })).outcome).payload.code).toBe('E.RUNNER.FAILURE');
    }
  });

  it('answers an unknown node with E.RUNNER.FAILURE carrying the resolver message', async () => {
    const before = resolver.acquired;
    const { outcome } = await run('no-such-node');
    const { payload, execMode } = expectError(outcome);
    expect(execMode).toBeUndefined();
    expect(payload.code).toBe('E.RUNNER.FAILURE');
    expect(payload.message).toContain('no handler for fixtures@1.0.0 no-such-node');
    expect(payload.context?.where).toBe('runner.resolve');
    expect(payload.context?.details?.cause_code).toBe('E.PKG.NOT_FOUND');
    expect(resolver.acquired).toBe(before);
  });

  it('answers E.RUNNER.FAILURE for a foreign runtime, a thread that cannot load the handler, or no data folder', async () => {
    const python = { ...(await fixtureHandler('echo')), nodeType: 'py', runtime: 'python', fn: undefined };
    const moved = {
      ...(await fixtureHandler('echo', { execMode: 'thread' })),
      nodeType: 'moved',
      modulePath: path.join(dataRoot, 'gone.mjs'),
    };
    const echo = await fixtureHandler('echo', { execMode: 'inline' });
    const writes = await fixtureHandler('writesData');
    const writesSync = await fixtureHandler('writesDataSync');
    const local = createFixtureResolver([python, moved, echo, writes, writesSync]);
    const blocker = path.join(dataRoot, 'not-a-folder');
    await writeFile(blocker, 'x');
    const task = { tenant: 't', emitFeedback: async () => {}, next: async () => ({}) };
    const ok = createRunner({ resolver: local, dataDir: path.join(dataRoot, 'data') });
    const blocked = createRunner({ resolver: local, dataDir: blocker });
    try {
      const foreign = expectError(await ok.run({ ...task, dispatch: dispatchFor('py') })).payload;
      expect(foreign).toMatchObject({ code: 'E.RUNNER.FAILURE', context: { where: 'runner.resolve' } });
      expect(foreign.message).toContain('python');
      const unloadable = expectError(await ok.run({ ...task, dispatch: dispatchFor('moved') })).payload;
      expect(unloadable).toMatchObject({ code: 'E.RUNNER.FAILURE', context: { where: 'runner.resolve' } });
      expect(unloadable.message).toContain('gone.mjs');
      // The folder is made when a handler first reads ctx.dataDir: one that never does runs anyway,
      // one that does gets the failure there (inline and in a thread).
      expectResult(await blocked.run({ ...task, dispatch: dispatchFor('echo') }));
      for (const node of ['writesData', 'writesDataSync']) {
        const noFolder = expectError(await blocked.run({ ...task, dispatch: dispatchFor(node) })).payload;
        expect(noFolder, node).toMatchObject({ code: 'E.RUNNER.FAILURE', context: { where: 'runner.handler' } });
        expect(noFolder.message, node).toContain('cannot create task data folder');
      }
      await local.allReleased();
      expect(local.acquired).toBe(5);
    } finally {
      await Promise.all([ok.close(), blocked.close()]);
    }
  });

  it('creates the task data folder when the handler first reads ctx.dataDir, never before (inline and thread)', async () => {
    const root = path.join(dataRoot, 'lazy');
    const local = createFixtureResolver([
      await fixtureHandler('folderExists'),
      await fixtureHandler('folderExistsSync'),
      await fixtureHandler('writesData'),
      await fixtureHandler('writesDataSync'),
    ]);
    const lazy = createRunner({ resolver: local, dataDir: root });
    const task = { tenant: 't', emitFeedback: async () => {}, next: async () => ({}) };
    try {
      // A handler that never reads ctx.dataDir runs without its folder (checked from inside the task).
      for (const node of ['folderExists', 'folderExistsSync']) {
        const dir = taskDataDirPath(root, 'lazy', node);
        const result = expectResult(
          await lazy.run({ ...task, dispatch: dispatchFor(node, { path: dir }, { run_id: 'lazy', task_id: node }) }),
        );
        expect(result.payload.result, node).toEqual({ existed: false });
      }
      // One that reads it finds it there and can write into it; the folder goes when the task ends
      // (a thread reports that it made one, so the main thread knows to remove it).
      for (const node of ['writesData', 'writesDataSync']) {
        const result = expectResult(
          await lazy.run({ ...task, dispatch: dispatchFor(node, {}, { run_id: 'lazy', task_id: node }) }),
        );
        expect(result.payload.result.file, node).toBe(path.join(taskDataDirPath(root, 'lazy', node), 'out.txt'));
        await vi.waitFor(() => expect(existsSync(taskDataDirPath(root, 'lazy', node)), node).toBe(false), { timeout: 3000 });
      }
    } finally {
      await lazy.close();
    }
  });

  it('refuses invalid feedback bodies inside the handler without failing the task', async () => {
    for (const mode of ['inline', 'thread']) {
      const { outcome, frames } = await run(`badFeedback.${mode}`);
      const errors = expectResult(outcome).payload.result.errors as string[];
      expect(errors).toHaveLength(3);
      expect(errors[0]).toMatch(/progress/);
      expect(errors[1]).toMatch(/invalid feedback body/);
      expect(errors[2]).toMatch(/channel/);
      expect(frames).toEqual([]);
    }
  });
});

describe('createRunner: timeouts and cancellation', () => {
  it('aborts ctx.signal on timeout and answers E.TIMEOUT (inline and thread)', async () => {
    for (const mode of ['inline', 'thread']) {
      const { payload, execMode } = expectError((await run(`waitForAbort.${mode}`, {}, { timeoutMs: 80 })).outcome);
      expect(execMode).toBe(mode);
      expect(payload.code).toBe('E.TIMEOUT');
      expect(payload.context?.where).toBe('runner.timeout');
    }
    await resolver.allReleased();
  });

  it('takes the tighter of the caller timeout and constraints.timeout_ms', async () => {
    const { payload } = expectError(
      (await run('waitForAbort.inline', {}, { timeoutMs: 60_000, dispatch: { constraints: { timeout_ms: 50 } } })).outcome,
    );
    expect(payload.code).toBe('E.TIMEOUT');
  });

  it('answers at the timeout but keeps the lease until an inline handler that ignores the signal settles', async () => {
    const before = resolver.released;
    const { outcome } = await run('ignoresSignal.inline', { ms: 400 }, { timeoutMs: 50 });
    expect(expectError(outcome).payload.code).toBe('E.TIMEOUT');
    expect(resolver.released).toBe(before);
    await resolver.allReleased();
    expect(resolver.released).toBe(before + 1);
  });

  it('kills a thread stuck in a busy loop and answers E.TIMEOUT; the pool keeps working', async () => {
    const before = resolver.released;
    const { outcome } = await run('busyForever.thread', {}, { timeoutMs: 100 });
    expect(expectError(outcome).payload.code).toBe('E.TIMEOUT');
    // The lease is held until the thread has been terminated.
    expect(resolver.released).toBe(before);
    await resolver.allReleased();
    expect(expectResult((await run('echo.thread', { again: true })).outcome).payload.result.params).toEqual({ again: true });
  });

  it('answers E.RUNNER.CANCELLED when the caller aborts, or the code of an AstraError reason', async () => {
    for (const mode of ['inline', 'thread']) {
      const controller = new AbortController();
      const running = run(`waitForAbort.${mode}`, {}, { signal: controller.signal });
      setTimeout(() => controller.abort(), 30);
      const { payload } = expectError((await running).outcome);
      expect(payload.code).toBe('E.RUNNER.CANCELLED');
      expect(payload.context?.where).toBe('runner.cancel');

      const draining = new AbortController();
      const second = run(`waitForAbort.${mode}`, {}, { signal: draining.signal });
      setTimeout(() => draining.abort(new AstraError('E.WORKER.DRAINING', 'worker is draining')), 30);
      const drained = expectError((await second).outcome).payload;
      expect(drained.code).toBe('E.WORKER.DRAINING');
      expect(drained.message).toBe('worker is draining');
    }
    await resolver.allReleased();
  });

  it('does not call the handler when the signal is already aborted', async () => {
    const before = resolver.acquired;
    const controller = new AbortController();
    controller.abort(new AstraError('E.RUNNER.CANCELLED', 'shutting down'));
    const { payload } = expectError((await run('echo', {}, { signal: controller.signal })).outcome);
    expect(payload.code).toBe('E.RUNNER.CANCELLED');
    expect(payload.message).toBe('shutting down');
    expect(resolver.acquired).toBe(before);
  });
});

describe('createRunner: feedback, next, logs, data folder', () => {
  it('delivers feedback in order, before the result (inline)', async () => {
    const { frames, events } = await run('feedbackMix', {}, { sinkDelayMs: 5 });
    expect(events.at(-1)).toBe('result');
    // Idle channel: a body goes out at once. Busy channel: bodies coalesce; send() seals what it joined.
    expect(frames).toEqual([
      { stage: 'start', progress: 0 },
      { chunks: [{ channel: 'log', index: 0, text: 'a' }] },
      {
        stage: 'end',
        progress: 1,
        message: 'half',
        metrics: { items: 2 },
        chunks: [{ channel: 'stdout', index: 0, text: 'b' }],
      },
      { chunks: [{ channel: 'log', index: 1, text: 'c' }] },
    ]);
  });

  it('delivers thread feedback in order, before the result', async () => {
    const { frames, events } = await run('feedbackNowait', {}, { sinkDelayMs: 5 });
    expect(events.at(-1)).toBe('result');
    const chunks = frames.flatMap((frame) => frame.chunks ?? []);
    expect(chunks).toEqual([
      { channel: 'log', index: 0, text: 'a' },
      { channel: 'stderr', index: 0, text: 'b' },
    ]);
    expect(frames[0]?.stage).toBe('start');
    expect(frames.at(-1)).toMatchObject({ progress: 1, message: 'done' });
    const waited = await run('feedbackMix.thread', {}, { sinkDelayMs: 5 });
    expect(waited.frames[0]).toEqual({ stage: 'start', progress: 0 });
    expect(waited.frames.flatMap((frame) => frame.chunks ?? []).map((chunk) => chunk.text)).toEqual(['a', 'b', 'c']);
  });

  it.each(['inline', 'thread'])(
    'keeps 10 000 chunks from a flooding %s handler bounded, ordered and accounted for',
    async (mode) => {
      // The sink is much slower than the handler, so chunks must be dropped rather than pile up.
      const { outcome, frames, events } = await run(`flood.${mode}`, { count: 10_000 }, { sinkDelayMs: 5 });
      expect(expectResult(outcome).payload.result).toEqual({ emitted: 10_000 });
      expect(events.at(-1)).toBe('result');
      expect(frames.every((frame) => (frame.chunks?.length ?? 0) <= 256)).toBe(true);
      const indices = frames.flatMap((frame) => (frame.chunks ?? []).map((chunk) => chunk.index ?? -1));
      for (let i = 1; i < indices.length; i += 1) expect(indices[i]).toBeGreaterThan(indices[i - 1]!);
      const dropped = frames.reduce((sum, frame) => sum + Number(frame.metadata?.dropped_chunks ?? 0), 0);
      expect(indices.length + dropped).toBe(10_000);
      expect(indices.at(-1)).toBe(9_999);
      expect(dropped).toBeGreaterThan(0);
    },
  );

  it('bridges ctx.next to the worker (inline and thread)', async () => {
    for (const mode of ['inline', 'thread']) {
      const { outcome, nextCalls } = await run(`callsNext.${mode}`, { question: 'why' });
      expect(expectResult(outcome).payload.result).toEqual({
        reply: { answer: 're: why' },
        thread: mode === 'inline' ? 'main' : 'worker',
      });
      expect(nextCalls).toEqual([{ payload: { question: 'why' }, hostCtx: { host: 'h' }, timeoutMs: 500 }]);
    }
  });

  it('passes a failing next back to the handler with its code', async () => {
    for (const mode of ['inline', 'thread']) {
      const { outcome } = await run(
        `callsNext.${mode}`,
        { question: 'q' },
        {
          next: async () => {
            throw new AstraError('E.TIMEOUT', 'no answer from the middleware');
          },
        },
      );
      const { payload } = expectResult(outcome);
      expect(payload.status).toBe('FAILED');
      expect(payload.result).toEqual({ code: 'E.TIMEOUT', message: 'no answer from the middleware' });
    }
  });

  it('gives handlers the resource registry, inline and in a thread, and leases resource_refs for the task', async () => {
    const put = expectResult((await run('usesResources.thread', { id: 'res-thread' })).outcome).payload.result;
    expect(put).toEqual({ leased: [], listed: expect.arrayContaining(['res-thread']), missing: 'E.RESOURCE.MISSING' });
    expectResult((await run('usesResources.inline', { id: 'res-inline' })).outcome);
    const ref = (id: string, worker = 'w-test') => ({ resource_id: id, worker_name: worker, type: 'blob' });
    for (const mode of ['inline', 'thread']) {
      const used = await run(
        `usesResources.${mode}`,
        {},
        { dispatch: { resource_refs: [ref('res-thread'), ref('res-inline')] } },
      );
      // Each leased once for this task; the leases end with it.
      expect(expectResult(used.outcome).payload.result).toMatchObject({ leased: ['res-thread:1', 'res-inline:1'] });
    }
  });

  it('refuses a ref pinned to another worker, or missing here, with E.RESOURCE.MISSING before the handler runs', async () => {
    const ref = (id: string, worker: string) => ({ resource_id: id, worker_name: worker, type: 'blob' });
    expectResult((await run('usesResources', { id: 'res-pinned' })).outcome);
    for (const refs of [[ref('res-pinned', 'other-worker')], [ref('res-pinned', 'w-test'), ref('nowhere', 'w-test')]]) {
      const dispatch = { run_id: `res-run-${refs.length}`, task_id: 'res-task', resource_refs: refs };
      const error = expectError((await run('writesData', {}, { dispatch })).outcome).payload;
      expect(error.code).toBe('E.RESOURCE.MISSING');
      expect(error.context?.where).toBe('runner.prepare');
      // The handler never ran: not even its data folder exists.
      await expect(readFile(path.join(dataRoot, 'data', dispatch.run_id, 'res-task', 'out.txt'))).rejects.toThrow();
    }
  });

  it('creates a path-safe data folder inside the data root', async () => {
    const root = path.join(dataRoot, 'data');
    const { outcome } = await run('writesData', {}, { dispatch: { run_id: '../x', task_id: '../../etc' } });
    const file = String(expectResult(outcome).payload.result.file);
    expect(file.startsWith(root + path.sep)).toBe(true);
    expect(path.relative(root, file).split(path.sep)).toHaveLength(3);
    expect(await readFile(file, 'utf8')).toBe('data');
  });

  it('logs through a child logger bound to the task, from inline and thread handlers', async () => {
    for (const mode of ['inline', 'thread']) {
      const dispatch = { run_id: `r-log-${mode}`, task_id: 't-log', node_id: 'n-log' };
      expectResult((await run(`logsSync.${mode}`, {}, { dispatch })).outcome);
      const mine = logger.records.filter((record) => record.bindings.run_id === dispatch.run_id);
      expect(mine.map((record) => [record.level, record.msg])).toEqual([
        ['info', 'first'],
        ['warn', 'second'],
        ['info', 'uncloneable in a thread'],
      ]);
      expect(mine[0]).toMatchObject({
        bindings: { run_id: dispatch.run_id, task_id: 't-log', node_id: 'n-log' },
        fields: { step: 1 },
      });
      expect(mine[1]?.bindings.part).toBe('x');
    }
  });
});

describe('createRunner: threads and lifecycle', () => {
  it('keeps the main event loop free while a thread handler burns CPU', async () => {
    // Starting a thread costs the main loop a moment; measure the steady state, not the spawn.
    await run('busy', { ms: 1 });
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    try {
      const { outcome } = await run('busy', { ms: 500 });
      expect(expectResult(outcome).payload.result.thread).toBe('worker');
    } finally {
      clearInterval(timer);
    }
    // A handler blocking this loop would leave a gap of its whole 500 ms; the margin below that
    // absorbs a loaded machine's scheduling hiccups.
    expect(maxGap).toBeLessThan(250);
  });

  it('releases every lease it took', async () => {
    await resolver.allReleased();
    expect(resolver.released).toBe(resolver.acquired);
    expect(resolver.acquired).toBeGreaterThan(50);
  });

  it('answers E.RUNNER.CANCELLED for thread tasks cut by close() and for runs after it', async () => {
    const handler = await fixtureHandler('busyForever', { execMode: 'thread' });
    const local = createFixtureResolver([handler]);
    const closing = createRunner({ resolver: local, dataDir: dataRoot });
    const task = {
      tenant: 't',
      emitFeedback: async () => {},
      next: async () => ({}),
    };
    const running = closing.run({ ...task, dispatch: dispatchFor('busyForever') });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await closing.close();
    const { payload } = expectError(await running);
    expect(payload.code).toBe('E.RUNNER.CANCELLED');
    await local.allReleased();
    const after = expectError(await closing.run({ ...task, dispatch: dispatchFor('busyForever') }));
    expect(after.payload.code).toBe('E.RUNNER.CANCELLED');
  });

  it('starts the timeout when a thread takes the task, not while it waits in the pool queue', async () => {
    const local = createFixtureResolver([await fixtureHandler('busy', { execMode: 'thread' })]);
    const pooled = createRunner({ resolver: local, dataDir: dataRoot, threads: { minThreads: 1, maxThreads: 1 } });
    try {
      const task = { tenant: 't', emitFeedback: async () => {}, next: async () => ({}), timeoutMs: 600 };
      // One thread, three 300 ms tasks: the last waits ~600 ms, which must not count against its 600 ms.
      const outcomes = await Promise.all(
        [1, 2, 3].map(() => pooled.run({ ...task, dispatch: dispatchFor('busy', { ms: 300 }) })),
      );
      expect(outcomes.map((o) => o.kind)).toEqual(['result', 'result', 'result']);
    } finally {
      await pooled.close();
    }
  });

  it('ends a task still waiting for a thread after startTimeoutMs as overloaded, without running it', async () => {
    const local = createFixtureResolver([
      await fixtureHandler('busy', { execMode: 'thread' }),
      await fixtureHandler('busyAnnounced', { execMode: 'thread' }),
    ]);
    const pooled = createRunner({ resolver: local, dataDir: dataRoot, threads: { maxThreads: 1 } });
    try {
      const task = { tenant: 't', emitFeedback: async () => {}, next: async () => ({}) };
      // The first may take its time to get the (cold) thread; the second is submitted only once the
      // first holds it (its feedback says so), and must not wait 150 ms behind it.
      let holding!: () => void;
      const holds = new Promise<void>((resolve) => (holding = resolve));
      const first = pooled.run({
        ...task,
        emitFeedback: async () => holding(),
        dispatch: dispatchFor('busyAnnounced', { ms: 700 }),
      });
      await holds;
      const second = await pooled.run({ ...task, startTimeoutMs: 150, dispatch: dispatchFor('busy', { ms: 10 }) });
      const { payload } = expectError(second);
      expect(payload.code).toBe('E.RUNNER.CANCELLED');
      expect(payload.context?.where).toBe('runner.queue');
      expect(payload.context?.details).toMatchObject({ reason: 'overloaded', retry_after_ms: expect.any(Number) });
      expect(expectResult(await first).payload.status).toBe('SUCCEEDED');
    } finally {
      await pooled.close();
    }
  });

  it('gives an outcome whose settled promise waits for an inline handler that ignores its timeout', async () => {
    const started = performance.now();
    const { outcome } = await run('ignoresSignal.inline', { ms: 400 }, { timeoutMs: 50 });
    expect(expectError(outcome).payload.code).toBe('E.TIMEOUT');
    expect(performance.now() - started).toBeLessThan(350);
    await outcome.settled;
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
  });

  it('prewarms threads for thread-mode handlers only', async () => {
    const busy = await fixtureHandler('busy', { execMode: 'thread' });
    const inline = await fixtureHandler('echoAsync', { execMode: 'inline' });
    const warm = createRunner({ resolver: createFixtureResolver([busy]), dataDir: dataRoot, threads: { minThreads: 1 } });
    try {
      expect(await warm.prewarm([inline])).toBe(0);
      expect(await warm.prewarm([busy, inline])).toBe(1);
    } finally {
      await warm.close();
    }
    const cold = createRunner({ resolver: createFixtureResolver([busy]), dataDir: dataRoot, threads: { minThreads: 0 } });
    expect(await cold.prewarm([busy])).toBe(0);
    await cold.close();
  });

  it('refuses invalid options', () => {
    expect(() => createRunner({ resolver, dataDir: dataRoot, defaultExecMode: 'sometimes' as 'auto' })).toThrow(
      /defaultExecMode/,
    );
    expect(() => createRunner({ resolver, dataDir: dataRoot, threads: { maxThreads: 0 } })).toThrow(/maxThreads/);
    expect(() => createRunner({ resolver, dataDir: dataRoot, feedback: { maxChunksPerFrame: 0 } })).toThrow(/maxChunksPerFrame/);
  });
});
