import {
  AstraError,
  ErrorCode,
  classifyCloseCode,
  type FailureClass,
  type Logger,
  type TransportCloseInfo,
  type TransportConnection,
  type TransportHandlers,
  errorMessage,
  scrubSecrets,
} from '@astraflow/protocol';
import type { Socket } from 'node:net';
import WebSocket, { type RawData } from 'ws';
import { KeepAlive } from './keep-alive.js';
import { wsErrorCloseCode } from './ws-error-close-code.js';

/** Everything a {@link WsConnection} needs; built by `createWsTransport`. */
export interface WsConnectionOptions {
  /** An open `ws` client socket. */
  socket: WebSocket;
  /**
   * The TCP (or TLS) socket under `socket`, from its `upgrade` response. When given, frames sent
   * in one event-loop turn leave in one write instead of one write each.
   */
  rawSocket?: Socket;
  handlers: TransportHandlers;
  /** Inbound frames larger than this are dropped (the connection stays open). */
  maxFrameBytes: number;
  /** 0 turns keep-alive off. */
  pingIntervalMs: number;
  /** How long a local close waits for the peer's close frame before terminating. */
  closeTimeoutMs: number;
  /** The peer's URL, already redacted. */
  url: string;
  /** Scrubbed from every message that leaves this connection. */
  token?: string;
  logger: Logger;
}

/** The largest close reason a close frame can carry, in UTF-8 bytes. */
const MAX_REASON_BYTES = 123;

/**
 * One open WebSocket connection, as a {@link TransportConnection}. It owns
 * the keep-alive, the inbound size limit, the close timeout and the
 * guarantee that `onClose` fires exactly once.
 */
export class WsConnection implements TransportConnection {
  readonly #socket: WebSocket;
  readonly #handlers: TransportHandlers;
  readonly #maxFrameBytes: number;
  readonly #closeTimeoutMs: number;
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #logger: Logger;
  readonly #keepAlive: KeepAlive;
  #closeRequested = false;
  #closed = false;
  #closeTimer: NodeJS.Timeout | undefined;
  readonly #raw: Socket | undefined;
  #corked = false;
  /** Why the connection is ending when we know better than the close event will; first cause wins. */
  #cause: TransportCloseInfo | undefined;

  constructor(options: WsConnectionOptions) {
    this.#socket = options.socket;
    this.#raw = options.rawSocket;
    this.#handlers = options.handlers;
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#closeTimeoutMs = options.closeTimeoutMs;
    this.#url = options.url;
    this.#token = options.token;
    this.#logger = options.logger;
    this.#keepAlive = new KeepAlive(options.pingIntervalMs, {
      ping: () => this.#ping(),
      onTimeout: () => this.#onKeepAliveTimeout(options.pingIntervalMs),
    });

    const socket = this.#socket;
    socket.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    socket.on('ping', () => this.#keepAlive.markAlive());
    socket.on('pong', () => this.#keepAlive.markAlive());
    socket.on('error', (err) => this.#onError(err));
    socket.on('close', (code, reason) => this.#onClose(code, reason));
    this.#keepAlive.start();
  }

  /** True while the socket is open and no close has begun. */
  get isOpen(): boolean {
    return !this.#closeRequested && !this.#closed && this.#socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends one text frame. Resolves once `ws` has written it to the socket;
   * rejects with `E.TRANSPORT.FAILURE` when the connection is not open or
   * the write fails.
   */
  send(data: string): Promise<void> {
    if (typeof data !== 'string') {
      return Promise.reject(
        new AstraError(ErrorCode.FRAME_INVALID, `send expects a string, got ${data === null ? 'null' : typeof data}`),
      );
    }
    if (!this.isOpen) {
      return Promise.reject(this.#failure('network', `cannot send: the connection to ${this.#url} is not open`));
    }
    this.#batchWrites();
    return new Promise<void>((resolve, reject) => {
      try {
        this.#socket.send(data, (err) => {
          if (err === undefined || err === null) resolve();
          else reject(this.#failure('network', `send to ${this.#url} failed: ${err.message}`, err));
        });
      } catch (err) {
        reject(this.#failure('network', `send to ${this.#url} failed: ${messageOf(err)}`, err));
      }
    });
  }

  /**
   * Holds the socket's writes until the end of this event-loop turn (`setImmediate` runs right
   * after the I/O callbacks of the turn), so an ack and the result behind it, or the answers of
   * many tasks finishing together, reach the kernel in one `writev` rather than one syscall per
   * frame. `ws` corks around each frame itself; corks nest, so its frames join ours.
   */
  #batchWrites(): void {
    const raw = this.#raw;
    if (this.#corked || raw === undefined || raw.destroyed) return;
    this.#corked = true;
    raw.cork();
    setImmediate(this.#flushWrites);
  }

  readonly #flushWrites = (): void => {
    this.#corked = false;
    this.#raw?.uncork();
  };

  /**
   * Starts a graceful close. If the peer does not answer with its own close
   * frame within the close timeout, the socket is terminated. A no-op once
   * closing has begun. Throws `E.TRANSPORT.FAILURE` for a code a close frame
   * cannot carry; a reason over 123 bytes is shortened.
   */
  close(code = 1000, reason = ''): void {
    if (!isSendableCloseCode(code)) {
      throw new AstraError(
        ErrorCode.TRANSPORT_FAILURE,
        `invalid close code ${String(code)}: use 1000-1003, 1007-1014 or 3000-4999`,
        { details: { code } },
      );
    }
    if (this.#closeRequested || this.#closed) return;
    this.#closeRequested = true;
    this.#keepAlive.stop();
    const safeReason = truncateUtf8(scrubSecrets(reason, [this.#token]), MAX_REASON_BYTES);
    this.#logger.debug({ url: this.#url, code, reason: safeReason }, 'closing WebSocket connection');
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, safeReason);
    this.#armCloseTimer();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.#keepAlive.markAlive();
    if (this.#closed) return;
    const buffer = toBuffer(data);
    if (buffer.byteLength > this.#maxFrameBytes) {
      // Handed on all the same (it is at most the hard ceiling): the frame parser refuses it, and
      // the session still gives a numbered frame its turn, acks it and answers it. Dropping it here
      // would leave a gap the receive window waits on forever.
      this.#logger.warn(
        { url: this.#url, size: buffer.byteLength, limit: this.#maxFrameBytes, binary: isBinary },
        'inbound frame larger than maxFrameBytes',
      );
    }
    // Schedulers are supposed to send text; a binary frame is read as UTF-8 and left to the frame parser to judge.
    const text = buffer.toString('utf8');
    try {
      this.#handlers.onMessage(text);
    } catch (err) {
      this.#logger.error({ url: this.#url, err: messageOf(err) }, 'transport onMessage handler threw');
    }
  }

  #onError(err: Error): void {
    const closeCode = wsErrorCloseCode(err);
    const reason = scrubSecrets(err.message, [this.#token]);
    this.#logger.debug({ url: this.#url, err: reason, code: (err as { code?: unknown }).code }, 'WebSocket error');
    if (closeCode !== undefined) {
      const failure = classifyCloseCode(closeCode);
      this.#setCause({
        code: closeCode,
        reason,
        failure,
        error: this.#failure(failure, `WebSocket protocol error on ${this.#url}: ${err.message}`, err),
      });
      // ws has started its own close (with a 30 s timeout); hold it to ours.
      this.#armCloseTimer();
    } else {
      this.#setCause({
        code: 1006,
        reason,
        failure: 'network',
        error: this.#failure('network', `connection to ${this.#url} failed: ${err.message}`, err),
      });
    }
  }

  #onClose(code: number, reasonBuffer: Buffer): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#keepAlive.stop();
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    const info: TransportCloseInfo = this.#cause ?? {
      code,
      reason: scrubSecrets(reasonBuffer.toString('utf8'), [this.#token]),
      failure: classifyCloseCode(code),
    };
    this.#logger.debug(
      { url: this.#url, code: info.code, reason: info.reason, failure: info.failure },
      'WebSocket connection closed',
    );
    try {
      this.#handlers.onClose(info);
    } catch (err) {
      this.#logger.error({ url: this.#url, err: messageOf(err) }, 'transport onClose handler threw');
    }
  }

  #ping(): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.ping();
  }

  #onKeepAliveTimeout(intervalMs: number): void {
    if (this.#closed) return;
    this.#logger.warn({ url: this.#url, pingIntervalMs: intervalMs }, 'keep-alive timeout: terminating connection');
    this.#setCause({
      code: 1006,
      reason: 'keep-alive timeout',
      failure: 'network',
      error: this.#failure('network', `no pong or data from ${this.#url} since the last ping (interval ${intervalMs} ms)`),
    });
    this.#closeRequested = true;
    this.#socket.terminate();
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#closed) return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      if (this.#closed) return;
      this.#logger.debug({ url: this.#url, timeoutMs: this.#closeTimeoutMs }, 'peer did not finish the close handshake');
      this.#setCause({
        code: 1006,
        reason: 'close handshake timed out',
        failure: 'network',
        error: this.#failure(
          'network',
          `${this.#url} did not answer the close frame within ${this.#closeTimeoutMs} ms; connection terminated`,
        ),
      });
      this.#socket.terminate();
    }, this.#closeTimeoutMs);
    this.#closeTimer.unref();
  }

  #setCause(cause: TransportCloseInfo): void {
    if (this.#cause === undefined) this.#cause = cause;
  }

  #failure(failure: FailureClass, message: string, cause?: unknown): AstraError {
    return new AstraError(ErrorCode.TRANSPORT_FAILURE, scrubSecrets(message, [this.#token]), {
      cause,
      details: { failure, url: this.#url },
    });
  }
}

/** Codes `ws` accepts in a close frame it sends (RFC 6455 §7.4, minus the reserved ones). */
function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 1000 && code <= 1014) return code !== 1004 && code !== 1005 && code !== 1006;
  return code >= 3000 && code <= 4999;
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function messageOf(err: unknown): string {
  return errorMessage(err);
}
