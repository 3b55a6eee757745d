import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { GotifyError } from './errors.js';

/** Config key (`plugins.notifications-gotify`), log name and spool directory name. */
export const PLUGIN_NAME = 'notifications-gotify';

/** One line of `rules`: which event becomes which notification. */
export interface NotificationRule {
  /** An event name, or a glob where `*` matches any characters (`transfer.*`, `*`). */
  event: string;
  /**
   * Templates with `{{field}}` / `{{a.b}}` placeholders filled from the event payload;
   * `{{size | bytes}}` prints a byte count in human units, `{{code | reason}}` a failure code in words.
   */
  title?: string;
  message: string;
  /** 0–10; the plugin's `defaultPriority` when absent. */
  priority?: number;
  /** Sends `extras.client::display.contentType = text/markdown`. */
  markdown?: boolean;
  /** Template of the URL Gotify clients open on a click (`extras.client::notification.click.url`). */
  clickUrl?: string;
  /** Payload fields the event must carry with exactly these values, e.g. `{ direction: 'receive' }`. */
  match?: Record<string, string | number | boolean>;
}

export interface RetrySettings {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** Attempts per notification before it is parked until the next success or restart; 0: no limit. */
  maxAttempts: number;
}

export interface QueueSettings {
  /** Notifications kept (in memory and in the spool); the oldest is dropped beyond this. */
  max: number;
  /** On shutdown, time given to deliver what is queued before it is left in the spool. */
  flushOnStopMs: number;
}

/** The validated `plugins.notifications-gotify` section (defaults filled by the host). */
export interface GotifyConfig {
  url?: string;
  token?: string;
  tokenEnv: string;
  tokenFile?: string;
  defaultPriority: number;
  timeoutMs: number;
  queue: QueueSettings;
  retry: RetrySettings;
  rules: NotificationRule[];
}

export const DEFAULT_RULES: NotificationRule[] = [
  // The receiving agent's user is the one to tell: the sender sees the outcome in its terminal.
  // The saved name, not the sent one: a name already taken in the downloads is saved numbered.
  {
    event: 'transfer.completed',
    match: { direction: 'receive' },
    title: 'File received: {{savedAs}}',
    message: '{{savedAs}} ({{size | bytes}}) from {{peer}}',
  },
  {
    event: 'transfer.failed',
    match: { direction: 'receive' },
    title: 'File not received: {{name}}',
    message: '{{name}} ({{size | bytes}}) from {{peer}} was not saved: {{code | reason}}',
    priority: 8,
  },
  {
    event: 'folder.completed',
    match: { direction: 'receive' },
    title: 'Folder received: {{savedAs}}',
    message: '{{savedAs}} ({{files}} files, {{bytes | bytes}}) from {{peer}}',
  },
  {
    event: 'folder.failed',
    match: { direction: 'receive' },
    title: 'Folder not received: {{root}}',
    message: '{{root}} ({{files}} files, {{bytes | bytes}}) from {{peer}} was not saved: {{code | reason}}',
    priority: 8,
  },
  {
    event: 'terminal.control_requested',
    title: 'Terminal control requested',
    message: '{{viewer}} asks to take control of the terminal {{owner}} shares',
    priority: 7,
  },
];

export const DEFAULTS = {
  tokenEnv: 'GOTIFY_TOKEN',
  defaultPriority: 5,
  timeoutMs: 5000,
  queue: { max: 1000, flushOnStopMs: 2000 },
  retry: { initialDelayMs: 1000, maxDelayMs: 60_000, factor: 2, maxAttempts: 0 },
} as const;

const priority = { type: 'integer', minimum: 0, maximum: 10 } as const;

/** JSON schema (draft-07) of the section; the host validates it with ajv and fills the defaults. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    url: {
      type: 'string',
      pattern: '^https?://[^\\s]+$',
      description: 'Base URL of the Gotify server, e.g. https://push.example.com',
    },
    token: { type: 'string', minLength: 1, description: 'Gotify application token' },
    tokenEnv: {
      type: 'string',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      default: DEFAULTS.tokenEnv,
      description: 'Environment variable holding the application token',
    },
    tokenFile: { type: 'string', minLength: 1, description: 'File holding the application token' },
    defaultPriority: { ...priority, default: DEFAULTS.defaultPriority },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 300_000, default: DEFAULTS.timeoutMs },
    queue: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max: { type: 'integer', minimum: 1, maximum: 100_000, default: DEFAULTS.queue.max },
        flushOnStopMs: {
          type: 'integer',
          minimum: 0,
          maximum: 60_000,
          default: DEFAULTS.queue.flushOnStopMs,
        },
      },
    },
    retry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        initialDelayMs: {
          type: 'integer',
          minimum: 1,
          maximum: 3_600_000,
          default: DEFAULTS.retry.initialDelayMs,
        },
        maxDelayMs: { type: 'integer', minimum: 1, maximum: 86_400_000, default: DEFAULTS.retry.maxDelayMs },
        factor: { type: 'number', minimum: 1, maximum: 10, default: DEFAULTS.retry.factor },
        maxAttempts: { type: 'integer', minimum: 0, maximum: 1_000_000, default: DEFAULTS.retry.maxAttempts },
      },
    },
    rules: {
      type: 'array',
      default: DEFAULT_RULES,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['event', 'message'],
        properties: {
          event: { type: 'string', minLength: 1 },
          title: { type: 'string' },
          message: { type: 'string', minLength: 1 },
          priority,
          markdown: { type: 'boolean' },
          clickUrl: { type: 'string' },
          match: {
            type: 'object',
            additionalProperties: { type: ['string', 'number', 'boolean'] },
          },
        },
      },
    },
  },
} as const;

/** Raised when no application token can be found; names every place that was looked at. */
export class TokenError extends GotifyError {
  constructor(message: string) {
    super('no-token', message, false);
    this.name = 'TokenError';
  }
}

/** Where a token may come from, in the order they are tried. */
export interface TokenSources {
  token?: string;
  tokenFile?: string;
  tokenEnv?: string;
}

/**
 * The application token: `token`, else the contents of `tokenFile`, else the environment variable
 * `tokenEnv`. Read on every call so that a rotated token file takes effect without a restart.
 */
export async function resolveToken(
  sources: TokenSources,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (sources.token) return sources.token;
  if (sources.tokenFile) {
    const path = expandHome(sources.tokenFile);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new TokenError(`cannot read the Gotify token file ${path} (${code})`);
    }
    const token = text.trim();
    if (!token) throw new TokenError(`the Gotify token file ${path} is empty`);
    return token;
  }
  const variable = sources.tokenEnv ?? DEFAULTS.tokenEnv;
  const fromEnv = env[variable]?.trim();
  if (fromEnv) return fromEnv;
  throw new TokenError(
    `no Gotify application token: set plugins.${PLUGIN_NAME}.token or .tokenFile, or the ${variable} environment variable`,
  );
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? resolve(homedir(), path.slice(2)) : resolve(path);
}
