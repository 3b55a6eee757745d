/**
 * The signaling servers to use, in order: config may give one URL, a list, or (env, flags) a
 * comma-separated list. Several servers are nodes of one cluster; the client fails over between them.
 */
export function signalingUrls(value: string | readonly string[] | undefined): string[] {
  const list = typeof value === 'string' ? value.split(',') : (value ?? []);
  return list.map((url) => url.trim()).filter((url) => url.length > 0);
}

export function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`invalid signaling URL "${url}"`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new TypeError(`signaling URL must start with ws:// or wss://, got "${url}"`);
  }
  return url;
}
