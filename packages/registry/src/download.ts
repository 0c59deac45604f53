import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { AstraError, ErrorCode, errorMessage, redactUrl } from '@astraflow/protocol';
import { getGlobalDispatcher, interceptors, request } from 'undici';

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

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(tooLarge(this.maxBytes, 'archive'));
      return;
    }
    this.hash.update(chunk);
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

async function downloadHttp(options: DownloadOptions, where: string): Promise<DownloadResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const dispatcher = getGlobalDispatcher().compose(interceptors.redirect({ maxRedirections: options.maxRedirects }));
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
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(options.url, {
      method: 'GET',
      dispatcher,
      signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  } catch (cause) {
    throw fail(cause);
  }
  const { statusCode, headers, body } = response;
  // dump() discards the rest quietly; destroy() would surface an abort error nobody listens to.
  const discard = (): void => void body.dump({ limit: 64 * 1024 }).catch(() => undefined);
  if (statusCode < 200 || statusCode >= 300) {
    discard();
    const reason =
      statusCode >= 300 && statusCode < 400
        ? `too many redirects (limit ${options.maxRedirects})`
        : `HTTP ${statusCode}`;
    throw new AstraError(ErrorCode.PKG_DOWNLOAD, `download of ${where} failed: ${reason}`, {
      details: { status: statusCode },
    });
  }
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    discard();
    throw tooLarge(options.maxBytes, `archive (${declared} bytes)`);
  }
  const meter = new Meter(options.maxBytes);
  try {
    await pipeline(body, meter, createWriteStream(options.dest));
  } catch (cause) {
    throw fail(cause);
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
