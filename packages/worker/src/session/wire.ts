import {
  AstraError,
  ErrorCode,
  redactSecrets,
  scrubSecrets,
  type Frame,
  type Logger,
  type Transport,
  type TransportCloseInfo,
  type TransportConnection,
} from '@astraflow/protocol';
import { deferred } from './deferred.js';
import type { SessionStats } from './session-types.js';

/** One transport connection of a session. */
export interface Connection {
  transport: TransportConnection;
  /** Settles when the connection closed, whoever closed it. */
  closed: Promise<TransportCloseInfo>;
  /** Set when this side or a reset decided the connection must end. */
  closing: boolean;
}

/** The failure of a connection that closed while something waited on it. */
export class ConnectionLost extends AstraError {
  constructor(info: TransportCloseInfo) {
    super(ErrorCode.TRANSPORT_FAILURE, `connection closed (${info.code}${info.reason ? ` ${info.reason}` : ''})`, {
      details: { failure: info.failure, code: info.code },
    });
  }
}

/**
 * The session's current connection: opening it over the transport,
 * sending frames on it (logged with secrets redacted), closing it. One at
 * a time; between connections sending is a no-op (unacked frames wait in
 * the send window for the next one).
 */
export class Wire {
  readonly #transport: Transport;
  readonly #log: Logger;
  readonly #stats: SessionStats;
  readonly #secrets: () => Array<string | undefined>;
  #conn: Connection | undefined;

  constructor(transport: Transport, log: Logger, stats: SessionStats, secrets: () => Array<string | undefined>) {
    this.#transport = transport;
    this.#log = log;
    this.#stats = stats;
    this.#secrets = secrets;
  }

  /** The current connection, if any. */
  get current(): Connection | undefined {
    return this.#conn;
  }

  /** Opens a connection and makes it the current one. */
  async open(onMessage: (raw: string) => void, signal: AbortSignal): Promise<Connection> {
    const closed = deferred<TransportCloseInfo>();
    const transport = await this.#transport.connect(
      {
        onMessage,
        onClose: (closeInfo) => {
          // A close reason is the peer's text too: it may echo a secret.
          const info = { ...closeInfo, reason: scrubSecrets(closeInfo.reason, this.#secrets()) };
          this.#log.debug({ code: info.code, reason: info.reason, failure: info.failure }, 'transport closed');
          closed.resolve(info);
        },
      },
      { signal },
    );
    this.#conn = { transport, closed: closed.promise, closing: false };
    return this.#conn;
  }

  /** Forgets the current connection (it closed). */
  clear(): void {
    this.#conn = undefined;
  }

  /** Closes the current connection; `requested` marks it as ended on purpose (no failure to report). */
  close(code: number, reason: string, requested = true): void {
    const conn = this.#conn;
    if (!conn) return;
    if (requested) conn.closing = true;
    conn.transport.close(code, reason);
  }

  /** Sends a frame on the current connection (`text`: its JSON, when the caller has it); never rejects (a failed send shows up as a close). */
  async transmit(frame: Frame, text?: string): Promise<void> {
    const conn = this.#conn;
    if (!conn?.transport.isOpen) return;
    if (this.#log.isLevelEnabled?.('debug') !== false)
      this.#log.debug({ frame: redactSecrets(frame, this.#secrets()) }, 'frame out');
    this.#stats.framesOut++;
    try {
      await conn.transport.send(text ?? JSON.stringify(frame));
    } catch (err) {
      // The close handler takes it from here; unacked frames are retransmitted later.
      this.#log.debug({ err, id: frame.id }, 'send failed');
    }
  }
}
