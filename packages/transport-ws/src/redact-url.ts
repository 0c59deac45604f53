/** Query parameters whose values are treated as secrets when a URL is logged. */
const SECRET_PARAM = /token|secret|passw|pwd|key|auth|sig|credential|session/i;

const MASK = '***';

/**
 * Returns `url` fit for logs and error details: user info and the values of
 * secret-looking query parameters are masked, and so is every occurrence of
 * `token`, in case a caller embedded it somewhere unexpected.
 *
 * @param url - the URL as configured (it may not even parse)
 * @param token - the bearer token, if any, to scrub wherever it appears
 */
export function redactUrl(url: string, token?: string): string {
  let text = url;
  try {
    const parsed = new URL(url);
    if (parsed.username !== '') parsed.username = MASK;
    if (parsed.password !== '') parsed.password = MASK;
    for (const name of [...new Set(parsed.searchParams.keys())]) {
      if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, MASK);
    }
    text = parsed.toString();
  } catch {
    // An unparseable URL is still logged, minus anything that looks like user info.
    text = url.replace(/\/\/[^/@]*@/, `//${MASK}@`);
  }
  return scrubSecret(text, token);
}

/**
 * Replaces every occurrence of `secret` (and of its URL-encoded form) in
 * `text` with a mask. Used on any message that leaves the transport.
 */
export function scrubSecret(text: string, secret?: string): string {
  if (secret === undefined || secret === '') return text;
  let out = text.split(secret).join(MASK);
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) out = out.split(encoded).join(MASK);
  return out;
}
