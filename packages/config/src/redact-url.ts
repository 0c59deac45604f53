/** What a redacted secret reads as. */
export const REDACTED = '***';

/**
 * Masks the password of a URL with userinfo (`ws://user:pass@host`), which
 * is as secret as a token; other strings come back unchanged.
 */
export function redactUrlPassword(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value)) return value;
  try {
    const url = new URL(value);
    if (url.password === '') return value;
    url.password = REDACTED;
    return url.toString();
  } catch {
    // Unparsable but credential-shaped: hide everything before the '@'.
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, `$1${REDACTED}@`);
  }
}
