import { join } from 'node:path';
import { definePlugin, type PluginHost } from '@mesh-agent/host';
import { type CreateMessage, messageEndpoint, postMessage } from './client.js';
import { configSchema, type GotifyConfig, PLUGIN_NAME, resolveToken } from './config.js';
import { NotificationQueue } from './queue.js';
import { buildMessage, findRule } from './rules.js';
import { Spool } from './spool.js';

export { type CreateMessage, type GotifyMessage, messageEndpoint, postMessage } from './client.js';
export {
  configSchema,
  DEFAULT_RULES,
  type GotifyConfig,
  type NotificationRule,
  PLUGIN_NAME,
  resolveToken,
} from './config.js';
export * from './errors.js';
export { NotificationQueue, type QueueOptions, type QueueStats } from './queue.js';
export { buildMessage, eventMatches, findRule } from './rules.js';
export { Spool, type SpooledNotification } from './spool.js';
export { renderTemplate } from './template.js';

/** `<home>/notifications-gotify/spool.jsonl`: notifications that survive a restart. */
export function spoolPath(home: string): string {
  return join(home, PLUGIN_NAME, 'spool.jsonl');
}

/**
 * Pushes a Gotify notification for plugin events that a rule matches. It only observes
 * `hooks.anyPluginEvent`: the events are declared by other plugins, which know nothing of Gotify.
 */
export default definePlugin<GotifyConfig>({
  name: PLUGIN_NAME,
  configSchema,
  apply(host, config) {
    if (!config.url) {
      host.log.debug('no url configured: Gotify notifications are off');
      return;
    }
    try {
      messageEndpoint(config.url);
    } catch (error) {
      host.log.error(`${(error as Error).message}: Gotify notifications are off`);
      return;
    }
    resolveToken(config).catch((error: Error) =>
      host.log.warn(`${error.message}: notifications are kept until a token is configured`),
    );
    wireNotifications(host, { ...config, url: config.url });
  },
});

function wireNotifications(host: PluginHost, config: GotifyConfig & { url: string }): void {
  let queue: NotificationQueue | undefined;
  // Events emitted before the queue opened (on hooks.start); bounded like the queue.
  const early: CreateMessage[] = [];

  host.hooks.anyPluginEvent.tap(PLUGIN_NAME, (name, payload) => {
    const rule = findRule(config.rules, name, payload);
    if (!rule) return;
    const message = buildMessage(
      rule,
      { event: name, agentId: host.agentId, payload },
      config.defaultPriority,
    );
    if (queue) queue.enqueue(message);
    else if (early.push(message) > config.queue.max) early.shift();
  });

  host.hooks.start.tapPromise(PLUGIN_NAME, async () => {
    const spool = await ownSpool(host);
    queue = await NotificationQueue.open({
      send: async (message, signal) =>
        postMessage(message, {
          url: config.url,
          token: await resolveToken(config),
          timeoutMs: config.timeoutMs,
          signal,
        }),
      max: config.queue.max,
      retry: config.retry,
      spool,
      log: host.log,
    });
    for (const message of early.splice(0)) queue.enqueue(message);
  });

  host.hooks.stop.tapPromise(PLUGIN_NAME, async () => {
    await queue?.close(config.queue.flushOnStopMs);
  });
}

/** The agent's spool, unless another process of the same agent (the daemon) already owns it. */
async function ownSpool(host: PluginHost): Promise<Spool | undefined> {
  const spool = new Spool(spoolPath(host.home), host.log);
  try {
    if (await spool.acquire()) return spool;
    host.log.debug('another process of this agent owns the Gotify spool: queueing in memory only');
  } catch (error) {
    host.log.warn(
      { err: (error as Error).message },
      'cannot open the Gotify spool: undelivered notifications will not survive a restart',
    );
  }
  return undefined;
}
