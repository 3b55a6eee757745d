/**
 * The one place that decides what a secret looks like, for `config` output and for every log
 * record: values under secret-looking keys (arrays of them included), the password (and user)
 * of a URL, and URL query parameters with secret-looking names.
 */

export const REDACTED = '[redacted]';

/** Keys whose values are secrets: token, appToken, tokens, relaySecret, password, privateKey, authorization … */
const SECRET_KEY = /token|secret|passw(or)?d|private|authorization|api[-_]?key|credential/i;
/**
 * Keys that say where a secret is kept, not the secret: tokenFile, tokenEnv, relaySecretFile,
 * token_file … Their values (a path, a variable's name) help a user and give nothing away.
 */
const SECRET_REFERENCE = /(?:File|Env|Path|Dir|[-_](?:file|env|path|dir))$/;
/** Query parameters that carry secrets: ?token=, ?access_token=, ?key=, ?sig=, ?auth= … */
const SECRET_PARAM = /token|secret|passw(or)?d|key|sig|auth|credential/i;
/** URLs inside any string: a scheme, then everything up to whitespace or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !SECRET_REFERENCE.test(key);
}

/** A copy of `value` safe to print or log. `key` is the name it is stored under, if any. */
export function redactSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, key));
  if (isSecretKey(key) && value !== null && typeof value !== 'object' && typeof value !== 'boolean')
    return REDACTED;
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error)
    return { type: value.name, message: redactText(value.message), stack: redactText(value.stack ?? '') };
  if (isPlainObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v, k)]));
  // Buffers, dates and the like carry no URL or key to redact.
  return value;
}

/** `text` with the credentials of every URL in it replaced. */
export function redactText(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, redactUrl);
}

function redactUrl(candidate: string): string {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return candidate;
  }
  let changed = false;
  if (url.password || url.username) {
    // A lone user name is often the secret itself (https://<token>@host).
    url.username = REDACTED;
    if (url.password) url.password = REDACTED;
    changed = true;
  }
  for (const name of [...url.searchParams.keys()]) {
    if (!SECRET_PARAM.test(name)) continue;
    url.searchParams.set(name, REDACTED);
    changed = true;
  }
  return changed ? url.href.replaceAll(encodeURIComponent(REDACTED), REDACTED) : candidate;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
