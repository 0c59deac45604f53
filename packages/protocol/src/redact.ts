/** What a redacted secret reads as. */
export const REDACTED = '***';

/** Keys whose values are secrets wherever they appear in a logged object. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['token', 'session_token', 'auth_token', 'authorization', 'password']);

/**
 * Deepest level {@link redactSecrets} copies. Frames come from an untrusted
 * peer: a 50 000-deep object must neither overflow the stack here nor in the
 * logger's serializer, so deeper values are replaced by a marker.
 */
export const REDACT_MAX_DEPTH = 32;

const URL_SHAPE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A URL fit for logs and error messages, by structure rather than by
 * guessing which parts are secret: scheme, host and path only. User info
 * (basic-auth passwords) and the query string (tokens, pre-signed
 * signatures) are removed, a removed query shows as `?…`, and the fragment
 * is dropped. Text that does not parse as a URL keeps nothing after its
 * scheme and host, and loses anything before an `@`.
 *
 * @example
 * ```ts
 * redactUrl('https://u:p@cdn.example/a.tgz?X-Sig=abc'); // 'https://cdn.example/a.tgz?…'
 * ```
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    const text = String(url);
    const withoutUser = text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
    const cut = withoutUser.search(/[?#]/);
    return cut === -1 ? withoutUser : `${withoutUser.slice(0, cut)}${withoutUser[cut] === '?' ? '?…' : ''}`;
  }
  const base = parsed.protocol === 'file:' ? `file://${parsed.pathname}` : `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  return parsed.search === '' ? base : `${base}?…`;
}

/** True when `value` looks like an absolute URL (`scheme://…`), the strings {@link redactUrl} applies to. */
export function isUrlLike(value: string): boolean {
  return URL_SHAPE.test(value);
}

/**
 * Replaces every occurrence of each secret (and of its URL-encoded form) in
 * `text` with {@link REDACTED}. For text a peer may have echoed a secret
 * into (reset reasons, close reasons, error messages).
 */
export function scrubSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret === '') continue;
    out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  return out;
}

/**
 * Copy of a frame (or any JSON value) fit for logs: values under secret keys
 * (`token`, `session_token`, `auth_token`, `authorization`, `password`) read
 * `***`, URL-shaped strings go through {@link redactUrl}, every string has
 * the given `secrets` scrubbed (a peer may echo a token anywhere), and
 * nesting deeper than {@link REDACT_MAX_DEPTH} is cut, which also bounds
 * the recursion.
 */
export function redactSecrets(value: unknown, secrets: ReadonlyArray<string | undefined> = []): unknown {
  return redactLevel(value, secrets, 0);
}

function redactLevel(value: unknown, secrets: ReadonlyArray<string | undefined>, depth: number): unknown {
  if (typeof value === 'string') return scrubSecrets(isUrlLike(value) ? redactUrl(value) : value, secrets);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= REDACT_MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((inner) => redactLevel(inner, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key.toLowerCase()) && inner != null ? REDACTED : redactLevel(inner, secrets, depth + 1);
  }
  return out;
}
