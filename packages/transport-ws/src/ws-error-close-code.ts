/**
 * The close code `ws` sends when its frame parser rejects inbound data,
 * keyed by the `code` of the error it emits (`WS_ERR_*`). `ws` keeps the
 * status on a private symbol, so the mapping is restated here.
 *
 * @returns the close code, or `undefined` when `err` is not a `ws` protocol error
 */
export function wsErrorCloseCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return undefined;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') return 1009;
  if (code === 'WS_ERR_INVALID_UTF8') return 1007;
  if (code === 'WS_ERR_TOO_MANY_BUFFERED_PARTS') return 1008;
  return 1002;
}
