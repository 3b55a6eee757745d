import type { CreateMessage } from './client.js';
import type { NotificationRule } from './config.js';
import { renderTemplate } from './template.js';

/** Events that fire many times per second; only a rule that names them explicitly notifies. */
const HIGH_FREQUENCY = /\.progress$/;

/**
 * Whether `pattern` matches the event `name`. `*` matches any run of characters (dots included).
 * A pattern with a wildcard never matches a `*.progress` event unless the pattern itself ends
 * with `.progress`: `*` and `transfer.*` skip `transfer.progress`, `transfer.progress` and
 * `*.progress` do not.
 */
export function eventMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  if (HIGH_FREQUENCY.test(name) && !HIGH_FREQUENCY.test(pattern)) return false;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(name);
}

/**
 * The first rule that matches the event's name and, when it has `match`, its payload fields:
 * one event gives at most one notification.
 */
export function findRule(
  rules: readonly NotificationRule[],
  name: string,
  payload: Readonly<Record<string, unknown>> = {},
): NotificationRule | undefined {
  return rules.find(
    (rule) =>
      eventMatches(rule.event, name) &&
      Object.entries(rule.match ?? {}).every(([field, value]) => payload[field] === value),
  );
}

export interface EventContext {
  event: string;
  agentId: string;
  payload: Readonly<Record<string, unknown>>;
}

/**
 * The Gotify message a rule makes of an event. Templates see the payload's fields plus `event`
 * and `agentId` (these two win over payload fields of the same name).
 */
export function buildMessage(
  rule: NotificationRule,
  ctx: EventContext,
  defaultPriority: number,
): CreateMessage {
  const fields = { ...ctx.payload, event: ctx.event, agentId: ctx.agentId };
  const title = renderTemplate(rule.title ?? '{{event}}', fields);
  // Gotify requires a non-empty message: fall back to the event name rather than be rejected.
  const message = renderTemplate(rule.message, fields) || ctx.event;
  const extras: Record<string, unknown> = {};
  if (rule.markdown) extras['client::display'] = { contentType: 'text/markdown' };
  const clickUrl = rule.clickUrl ? renderTemplate(rule.clickUrl, fields) : '';
  if (clickUrl) extras['client::notification'] = { click: { url: clickUrl } };
  return {
    title,
    message,
    priority: rule.priority ?? defaultPriority,
    ...(Object.keys(extras).length > 0 ? { extras } : {}),
  };
}
