import { createClient } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

/** Longest pause between reconnect attempts: a restarted Redis is found again within this. */
const MAX_RECONNECT_DELAY_MS = 1_000;

/**
 * A client that keeps reconnecting. Commands fail at once while Redis is away (no offline
 * queue): presence is written again on every refresh, so nothing needs to wait.
 */
export function redisClient(url: string): RedisClient {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
    },
  });
}

/** The URL with any password masked, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(unparsable Redis URL)';
  }
}
