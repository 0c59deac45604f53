import {
  AstraError,
  ErrorCode,
  classifyHttpStatus,
  createNoopLogger,
  redactUrl,
  scrubSecrets,
  type Logger,
  type Transport,
  type TransportConnectOptions,
  type TransportConnection,
  type TransportHandlers,
} from '@astraflow/protocol';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket, { type ClientOptions } from 'ws';
import { classifyConnectError, connectFailure, type ConnectErrorContext } from './connect-error.js';
import { WsConnection } from './ws-connection.js';

/** TLS material for `wss://` URLs (PEM strings or buffers, see `readTlsFiles`). */
export interface WsTlsOptions {
  /** CA certificates trusted for the scheduler (replace the system roots). */
  ca?: string | Buffer;
  /** Client certificate, for mTLS. */
  cert?: string | Buffer;
  /** Private key of `cert`. */
  key?: string | Buffer;
  /** Default true. False accepts any server certificate: for tests only. */
  rejectUnauthorized?: boolean;
}

/** Options of {@link createWsTransport}. */
export interface WsTransportOptions {
  /** Scheduler endpoint, `ws://` or `wss://`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` on the upgrade request; never logged. Overrides any `Authorization` in `headers`. */
  token?: string;
  /** Extra headers for the upgrade request. */
  headers?: Record<string, string>;
  /** TLS settings, used for `wss://` only. */
  tls?: WsTlsOptions;
  /**
   * Largest inbound frame expected. Larger ones are still handed to
   * `onMessage` with a warning (the frame parser refuses them, so the session
   * can ack and answer them); frames over 4 × this close the connection with
   * 1009. Default 16 MiB.
   */
  maxFrameBytes?: number;
  /** Ping period; a peer silent for a whole period after a ping is dropped. 0 = off. Default 20000. */
  pingIntervalMs?: number;
  /** Limit for TCP connect + TLS + WebSocket upgrade. Default 10000. */
  connectTimeoutMs?: number;
  /** How long `close()` waits for the peer's close frame before terminating. Default 2000. */
  closeTimeoutMs?: number;
  /** Default: a no-op logger. */
  logger?: Logger;
}

/** Default `maxFrameBytes`: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Default `pingIntervalMs`. */
export const DEFAULT_PING_INTERVAL_MS = 20_000;
/** Default `connectTimeoutMs`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default `closeTimeoutMs`. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/** How far past `maxFrameBytes` a frame may go before `ws` itself closes the connection. */
const HARD_CEILING_FACTOR = 4;
/** Node timers cannot wait longer than this. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface ResolvedOptions {
  url: string;
  safeUrl: string;
  secure: boolean;
  token: string | undefined;
  wsOptions: ClientOptions;
  maxFrameBytes: number;
  pingIntervalMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
  logger: Logger;
}

/**
 * Creates a {@link Transport} that reaches the scheduler over WebSocket
 * (the `ws` library). Each `connect` opens one socket and resolves once it is
 * open; a failed attempt rejects with `E.TRANSPORT.FAILURE` whose
 * `details` hold `failure` (auth / protocol / network), the redacted `url`
 * and, for a refused upgrade, the HTTP `status`.
 *
 * Throws `E.CONFIG.INVALID` at once for options that can never work.
 */
export function createWsTransport(options: WsTransportOptions): Transport {
  const resolved = resolveOptions(options);
  return {
    name: 'websocket',
    connect: (handlers, connectOptions) => connectWs(resolved, handlers, connectOptions),
  };
}

function connectWs(
  opts: ResolvedOptions,
  handlers: TransportHandlers,
  connectOptions: TransportConnectOptions = {},
): Promise<TransportConnection> {
  const { safeUrl, logger } = opts;
  const ctx: ConnectErrorContext = { url: safeUrl, secure: opts.secure };
  if (opts.token !== undefined) ctx.token = opts.token;
  const { signal } = connectOptions;
  if (signal?.aborted === true) {
    return Promise.reject(
      connectFailure('network', `connection attempt to ${safeUrl} aborted`, ctx, { aborted: true, cause: signal.reason }),
    );
  }
  logger.debug({ url: safeUrl, connectTimeoutMs: opts.connectTimeoutMs }, 'connecting WebSocket');

  return new Promise<TransportConnection>((resolve, reject) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(opts.url, opts.wsOptions);
    } catch (err) {
      const error = classifyConnectError(err, ctx);
      logger.debug({ url: safeUrl, err: error.message }, 'WebSocket connect failed');
      reject(error);
      return;
    }
    let settled = false;
    // The socket under the WebSocket, for batched writes (see WsConnection); `upgrade` is ws's documented way to it.
    let rawSocket: Socket | undefined;
    socket.once('upgrade', (res: IncomingMessage) => {
      rawSocket = res.socket as Socket;
    });

    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('open', onOpen);
      socket.off('unexpected-response', onUnexpectedResponse);
      socket.off('error', onError);
    };

    const fail = (error: AstraError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      // ws still reports the aborted handshake as an error; it is already accounted for.
      socket.on('error', ignore);
      socket.terminate();
      logger.debug(
        { url: safeUrl, failure: error.details?.['failure'], status: error.details?.['status'], err: error.message },
        'WebSocket connect failed',
      );
      reject(error);
    };

    const onOpen = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      const connectionOptions = {
        socket,
        handlers,
        maxFrameBytes: opts.maxFrameBytes,
        pingIntervalMs: opts.pingIntervalMs,
        closeTimeoutMs: opts.closeTimeoutMs,
        url: safeUrl,
        logger,
        ...(rawSocket ? { rawSocket } : {}),
      };
      const connection = new WsConnection(
        opts.token === undefined ? connectionOptions : { ...connectionOptions, token: opts.token },
      );
      logger.debug({ url: safeUrl }, 'WebSocket connected');
      resolve(connection);
    };

    const onUnexpectedResponse = (_req: unknown, res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      const text = res.statusMessage ? ` ${res.statusMessage}` : '';
      fail(
        connectFailure(classifyHttpStatus(status), `WebSocket upgrade to ${safeUrl} refused: HTTP ${status}${text}`, ctx, {
          status,
        }),
      );
    };

    const onError = (err: Error): void => fail(classifyConnectError(err, ctx));

    const onAbort = (): void =>
      fail(
        connectFailure('network', `connection attempt to ${safeUrl} aborted`, ctx, {
          aborted: true,
          cause: signal?.reason,
        }),
      );

    const timer = setTimeout(
      () =>
        fail(
          connectFailure('network', `connecting to ${safeUrl} timed out after ${opts.connectTimeoutMs} ms`, ctx, {
            timedOut: true,
          }),
        ),
      opts.connectTimeoutMs,
    );

    socket.on('open', onOpen);
    socket.on('unexpected-response', onUnexpectedResponse);
    socket.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function resolveOptions(options: WsTransportOptions): ResolvedOptions {
  const token = options.token;
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token))) {
    // The token itself is never echoed, only what is wrong with it.
    throw invalid('token must be a non-empty string of visible ASCII characters (no spaces or line breaks)', 'token');
  }
  if (typeof options.url !== 'string' || options.url === '') throw invalid('url is required (ws:// or wss://)', 'url');
  const safeUrl = scrubSecrets(redactUrl(options.url), [token]);
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw invalid(`url ${safeUrl} is not a valid URL`, 'url');
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw invalid(`url ${safeUrl} must start with ws:// or wss://`, 'url');
  }
  const secure = parsed.protocol === 'wss:';

  const maxFrameBytes = integerOption(
    options.maxFrameBytes,
    DEFAULT_MAX_FRAME_BYTES,
    'maxFrameBytes',
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const pingIntervalMs = integerOption(options.pingIntervalMs, DEFAULT_PING_INTERVAL_MS, 'pingIntervalMs', 0, MAX_TIMER_MS);
  const connectTimeoutMs = integerOption(
    options.connectTimeoutMs,
    DEFAULT_CONNECT_TIMEOUT_MS,
    'connectTimeoutMs',
    1,
    MAX_TIMER_MS,
  );
  const closeTimeoutMs = integerOption(options.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS, 'closeTimeoutMs', 1, MAX_TIMER_MS);
  const logger = (options.logger ?? createNoopLogger()).child({ transport: 'websocket' });

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw invalid(`header name ${JSON.stringify(name)} is not valid`, 'headers');
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw invalid(`header ${name} must be a string without line breaks`, 'headers');
    }
    if (token !== undefined && name.toLowerCase() === 'authorization') continue;
    headers[name] = value;
  }
  if (token !== undefined) headers['Authorization'] = `Bearer ${token}`;

  const wsOptions: ClientOptions = {
    headers,
    maxPayload: Math.min(maxFrameBytes * HARD_CEILING_FACTOR, Number.MAX_SAFE_INTEGER),
    followRedirects: false,
  };
  const tls = options.tls;
  if (tls !== undefined) {
    if (!secure) {
      logger.warn({ url: safeUrl }, 'tls options are ignored for a ws:// URL');
    } else {
      if ((tls.cert === undefined) !== (tls.key === undefined)) {
        throw invalid('tls.cert and tls.key go together', 'tls');
      }
      if (tls.ca !== undefined) wsOptions.ca = tls.ca;
      if (tls.cert !== undefined) wsOptions.cert = tls.cert;
      if (tls.key !== undefined) wsOptions.key = tls.key;
      if (tls.rejectUnauthorized !== undefined) wsOptions.rejectUnauthorized = tls.rejectUnauthorized;
    }
  }

  return {
    url: options.url,
    safeUrl,
    secure,
    token,
    wsOptions,
    maxFrameBytes,
    pingIntervalMs,
    connectTimeoutMs,
    closeTimeoutMs,
    logger,
  };
}

function integerOption(value: number | undefined, fallback: number, field: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer from ${min} to ${max}, got ${String(value)}`, field);
  }
  return value;
}

function invalid(message: string, field: string): AstraError {
  return new AstraError(ErrorCode.CONFIG_INVALID, `websocket transport: ${message}`, { details: { field } });
}

function ignore(): void {}
