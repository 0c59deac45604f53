import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, writeSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { AstraError, ErrorCode, errorMessage, redactUrl } from '@astraflow/protocol';
import { Agent, interceptors, type Dispatcher } from 'undici';

/** Limits and target of one download. */
export interface DownloadOptions {
  /** `http:`, `https:` or `file:` URL. */
  url: URL;
  /** File to write (created or truncated). */
  dest: string;
  /** Overall limit for the whole transfer, also used as header and idle-body timeouts. */
  timeoutMs: number;
  /** The transfer fails once more bytes than this arrive. */
  maxBytes: number;
  /** Redirects followed before giving up. */
  maxRedirects: number;
}

/** What was written. */
export interface DownloadResult {
  bytes: number;
  /** Lower-case hex sha256 of the bytes written. */
  sha256: string;
}

function tooLarge(maxBytes: number, what: string): AstraError {
  return new AstraError(ErrorCode.PKG_INVALID, `${what} exceeds the download limit of ${maxBytes} bytes`);
}

/** Counts and hashes the bytes on their way to disk, and stops the stream at the size limit. */
class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly maxBytes: number) {
    super();
  }

  /** Counts and hashes `chunk`; throws once the total passes the limit. */
  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) throw tooLarge(this.maxBytes, 'archive');
    this.hash.update(chunk);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.add(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isTimeout(err: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  const name = (err as { name?: unknown } | null)?.name;
  const code = errorCode(err);
  return name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

async function downloadFile(options: DownloadOptions, where: string): Promise<DownloadResult> {
  let path: string;
  try {
    path = fileURLToPath(options.url);
  } catch (cause) {
    throw new AstraError(ErrorCode.PKG_INVALID, `${where} is not a local file URL`, { cause });
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (cause) {
    const reason = errorCode(cause) === 'ENOENT' ? 'no such file' : errorMessage(cause);
    throw new AstraError(ErrorCode.PKG_DOWNLOAD, `cannot read ${where}: ${reason}`, { cause });
  }
  if (!info.isFile()) throw new AstraError(ErrorCode.PKG_DOWNLOAD, `cannot read ${where}: not a regular file`);
  if (info.size > options.maxBytes) throw tooLarge(options.maxBytes, `archive (${info.size} bytes)`);
  const meter = new Meter(options.maxBytes);
  try {
    await pipeline(createReadStream(path), meter, createWriteStream(options.dest));
  } catch (cause) {
    if (AstraError.isInstance(cause)) throw cause;
    const reason = errorMessage(cause);
    throw new AstraError(ErrorCode.PKG_DOWNLOAD, `cannot copy ${where}: ${reason}`, { cause });
  }
  return { bytes: meter.bytes, sha256: meter.digest() };
}

/** What decides a response before its body: status and declared length. */
interface ResponseHead {
  statusCode: number;
  contentLength: number | undefined;
}

/**
 * Streams one GET into `fd` through `dispatcher`. The parser is never paused:
 * each chunk is metered, hashed and written synchronously before the next one
 * is parsed. Pausing (backpressure) is what lets undici 7 hit
 * `assert(!this.paused)` when a server closes the connection right after the
 * body (nodejs/undici#5360), an uncatchable crash; a synchronous write of one
 * socket chunk costs far less than the transfer itself and keeps memory flat.
 */
function streamTo(
  dispatcher: Dispatcher,
  url: URL,
  fd: number,
  meter: Meter,
  options: DownloadOptions,
  onHead: (head: ResponseHead) => void,
): { done: Promise<void>; abort: (reason: Error) => void } {
  let controller: Dispatcher.DispatchController | undefined;
  let settled = false;
  let pendingAbort: Error | undefined;
  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const settle = (err?: unknown): void => {
    if (settled) return;
    settled = true;
    if (err === undefined) resolveDone();
    else rejectDone(err);
  };
  const abort = (reason: Error): void => {
    if (settled) return;
    settle(reason);
    if (controller === undefined) pendingAbort = reason;
    else if (!controller.aborted) controller.abort(reason);
  };
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(ctl) {
      controller = ctl;
      if (pendingAbort !== undefined) ctl.abort(pendingAbort);
    },
    onResponseStart(_ctl, statusCode, headers) {
      const declared = Number(headers['content-length']);
      try {
        onHead({ statusCode, contentLength: Number.isFinite(declared) ? declared : undefined });
      } catch (err) {
        abort(err as Error);
      }
    },
    onResponseData(_ctl, chunk) {
      if (settled) return;
      try {
        meter.add(chunk);
        writeFullySync(fd, chunk);
      } catch (err) {
        abort(err as Error);
      }
    },
    onResponseEnd() {
      settle();
    },
    onResponseError(_ctl, err) {
      settle(err);
    },
  };
  try {
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      },
      handler,
    );
  } catch (err) {
    settle(err);
  }
  return { done, abort };
}

function writeFullySync(fd: number, chunk: Buffer): void {
  let offset = 0;
  while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
}

async function downloadHttp(options: DownloadOptions, where: string): Promise<DownloadResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const fail = (cause: unknown): AstraError => {
    if (AstraError.isInstance(cause)) return cause;
    if (isTimeout(cause, signal)) {
      return new AstraError(ErrorCode.PKG_DOWNLOAD, `download of ${where} timed out after ${options.timeoutMs} ms`, { cause });
    }
    const code = errorCode(cause);
    const reason = cause instanceof Error ? cause.message || code || cause.name : String(cause);
    const withCode = code !== undefined && !reason.includes(code) ? `${reason} (${code})` : reason;
    return new AstraError(ErrorCode.PKG_DOWNLOAD, `download of ${where} failed: ${withCode}`, { cause });
  };
  // Our own agent from our own undici: the global dispatcher is Node's bundled
  // undici (6 on Node 22), whose dispatch contract our interceptors do not fit.
  const agent = new Agent({
    connect: { timeout: options.timeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  const dispatcher = agent.compose(interceptors.redirect({ maxRedirections: options.maxRedirects }));
  const meter = new Meter(options.maxBytes);
  let file: FileHandle | undefined;
  let onAbort: (() => void) | undefined;
  try {
    file = await open(options.dest, 'w');
    const transfer = streamTo(dispatcher, options.url, file.fd, meter, options, ({ statusCode, contentLength }) => {
      if (statusCode < 200 || statusCode >= 300) {
        const reason =
          statusCode >= 300 && statusCode < 400 ? `too many redirects (limit ${options.maxRedirects})` : `HTTP ${statusCode}`;
        throw new AstraError(ErrorCode.PKG_DOWNLOAD, `download of ${where} failed: ${reason}`, {
          details: { status: statusCode },
        });
      }
      if (contentLength !== undefined && contentLength > options.maxBytes) {
        throw tooLarge(options.maxBytes, `archive (${contentLength} bytes)`);
      }
    });
    onAbort = () => transfer.abort(signal.reason instanceof Error ? signal.reason : new Error('timeout'));
    signal.addEventListener('abort', onAbort, { once: true });
    await transfer.done;
  } catch (cause) {
    throw fail(cause);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    await file?.close().catch(() => undefined);
    // destroy(), not close(): nothing on this agent is worth waiting for.
    await agent.destroy().catch(() => undefined);
  }
  return { bytes: meter.bytes, sha256: meter.digest() };
}

/**
 * Fetches a package archive into `dest` while hashing it: `http:`/`https:`
 * through undici (timeouts, redirect limit, size limit enforced while
 * streaming), `file:` from the local disk. Throws `E.PKG.DOWNLOAD` for
 * transfer failures (with the HTTP status), `E.PKG.INVALID` for oversized
 * archives and unsupported URL schemes.
 */
export async function downloadArchive(options: DownloadOptions): Promise<DownloadResult> {
  const where = redactUrl(options.url);
  switch (options.url.protocol) {
    case 'file:':
      return downloadFile(options, where);
    case 'http:':
    case 'https:':
      return downloadHttp(options, where);
    default:
      throw new AstraError(
        ErrorCode.PKG_INVALID,
        `unsupported URL scheme "${options.url.protocol.replace(/:$/, '')}" (use https, http or file)`,
      );
  }
}
