const SECRET_KEYS = new Set(['token', 'session_token', 'auth_token', 'authorization']);

/**
 * Copy of a frame (or any JSON value) fit for logs: secrets replaced by
 * `***`. Used on every frame the session logs at DEBUG.
 */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key.toLowerCase()) && inner != null ? '***' : redactSecrets(inner);
  }
  return out;
}
