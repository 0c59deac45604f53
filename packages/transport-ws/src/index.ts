/**
 * WebSocket transport (`ws`) for the AstraFlow worker: implements the
 * `Transport` interface of `@astraflow/protocol` on a client socket, with
 * bearer-token auth, TLS/mTLS, keep-alive pings and an inbound size limit.
 *
 * @example
 * ```ts
 * import { createWsTransport, readTlsFiles } from '@astraflow/transport-ws';
 *
 * const transport = createWsTransport({
 *   url: 'wss://scheduler.example:8443/ws/worker',
 *   token: process.env.ASTRA_WORKER_AUTH_TOKEN,
 *   tls: await readTlsFiles({ caFile: '/etc/astraflow/ca.pem' }),
 * });
 * const connection = await transport.connect({
 *   onMessage: (text) => console.log('in:', text),
 *   onClose: (info) => console.log('closed', info.code, info.failure),
 * });
 * await connection.send('{"type":"control.handshake"}');
 * connection.close();
 * ```
 *
 * @packageDocumentation
 */
export {
  createWsTransport,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_PING_INTERVAL_MS,
  type WsTlsOptions,
  type WsTransportOptions,
} from './ws-transport.js';
export { readTlsFiles, type TlsFileContents, type TlsFilePaths } from './tls-files.js';
