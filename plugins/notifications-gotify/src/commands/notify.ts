import { MeshCommand, MeshError, secretFileFlag, UsageError } from '@mesh-agent/host';
import { Args, Flags } from '@oclif/core';
import { backoffDelay, sleep } from '../backoff.js';
import { type CreateMessage, type GotifyMessage, messageEndpoint, postMessage } from '../client.js';
import { type GotifyConfig, PLUGIN_NAME, resolveToken } from '../config.js';
import { GotifyError, type GotifyFailure } from '../errors.js';
import gotify from '../index.js';

/** Exit codes by failure class, so scripts can tell a wrong token from a server that is down. */
export const EXIT_CODES = { usage: 2, refused: 3, server: 4, unreachable: 5 } as const;

const EXIT_BY_FAILURE: Record<GotifyFailure, number> = {
  'no-url': EXIT_CODES.usage,
  'invalid-url': EXIT_CODES.usage,
  'no-token': EXIT_CODES.usage,
  unauthorized: EXIT_CODES.refused,
  forbidden: EXIT_CODES.refused,
  'bad-request': EXIT_CODES.refused,
  rejected: EXIT_CODES.refused,
  'bad-response': EXIT_CODES.refused,
  'rate-limited': EXIT_CODES.server,
  server: EXIT_CODES.server,
  timeout: EXIT_CODES.unreachable,
  connection: EXIT_CODES.unreachable,
  aborted: EXIT_CODES.unreachable,
};

const URL_SETTINGS = `--url or plugins.${PLUGIN_NAME}.url`;
const TOKEN_SETTINGS = `--token-file, plugins.${PLUGIN_NAME}.tokenFile (or .token) or GOTIFY_TOKEN`;
const REFUSED_HINT = 'the server named what it refused: check --priority, --title and the message';
const UNREACHABLE_HINT = `is a Gotify server running at that address? Check ${URL_SETTINGS}`;

/** What to do next, by failure class (the ones a usage error covers have their hint in the message). */
const HINT_BY_FAILURE: Partial<Record<GotifyFailure, string>> = {
  unauthorized: `check the application token (${TOKEN_SETTINGS}); a client token cannot push messages`,
  forbidden: 'use the token of an application (Apps in the Gotify web UI); this one may not push messages',
  'bad-request': REFUSED_HINT,
  rejected: REFUSED_HINT,
  'bad-response': `is ${URL_SETTINGS} the Gotify server itself, and not a proxy or login page in front of it?`,
  'rate-limited': 'the server asks to slow down: send again later, or raise --retries',
  server: 'the Gotify server failed: see its logs, or send again later (--retries)',
  timeout: 'is the Gotify server up and reachable from here? If it is slow, raise --timeout',
  connection: UNREACHABLE_HINT,
  aborted: UNREACHABLE_HINT,
};

export default class Notify extends MeshCommand<typeof Notify> {
  static override summary = 'Push a message to the Gotify server (like `gotify push`).';
  static override description =
    `Sends one message with POST /message to the Gotify server of plugins.${PLUGIN_NAME} (or --url), ` +
    'authenticated with the application token from --token-file (or --token), the config (token, tokenFile) or the ' +
    'GOTIFY_TOKEN environment variable. Needs no daemon. Network errors, timeouts and 5xx answers are ' +
    'retried (--retries). Exit codes: 0 sent; 2 usage or configuration (no URL, invalid URL, no token); ' +
    '3 refused by the server (401 wrong token, 403, 400); 4 server error after the retries; ' +
    '5 server unreachable (connection refused, timeout).';
  static override examples = [
    '<%= config.bin %> notify "Backup finished" --title Backup',
    'echo "**done**" | <%= config.bin %> notify - --markdown --priority 8',
    '<%= config.bin %> notify "Build ready" --click-url https://ci.example.com/build/42 --json',
  ];
  static override enableJsonFlag = true;
  static override args = {
    message: Args.string({ required: true, description: 'The message; `-` reads it from stdin.' }),
  };
  static override flags = {
    title: Flags.string({ char: 't', summary: 'Title of the message.' }),
    priority: Flags.integer({
      char: 'p',
      summary: 'Priority 0–10 (default: plugins.notifications-gotify.defaultPriority).',
      min: 0,
      max: 10,
    }),
    markdown: Flags.boolean({ summary: 'Clients render the message as Markdown.' }),
    'click-url': Flags.string({ summary: 'URL clients open when the notification is clicked.' }),
    url: Flags.string({
      summary: 'Gotify server base URL (overrides the config).',
      helpValue: 'https://push.example.com',
    }),
    token: Flags.string({
      summary: 'Application token (overrides the config and GOTIFY_TOKEN; better: --token-file).',
    }),
    'token-file': secretFileFlag('token', 'the Gotify application token'),
    retries: Flags.integer({
      summary: 'Retries on network errors, timeouts and 5xx.',
      default: 2,
      min: 0,
      max: 20,
    }),
    timeout: Flags.integer({ summary: 'Milliseconds per attempt (default: the config timeoutMs).', min: 1 }),
  };

  async run(): Promise<GotifyMessage> {
    const { flags } = this;
    const config = await this.pluginConfig(gotify);
    const url = flags.url ?? config.url;
    if (!url)
      throw new UsageError(
        `no Gotify server URL: set plugins.${PLUGIN_NAME}.url in the config or pass --url`,
        `to set it once: mesh-agent config set plugins.${PLUGIN_NAME}.url https://push.example.com`,
      );
    const message = await this.messageText();
    const token = await this.appToken(config);
    const body = this.createMessage(message, config);
    const endpoint = (() => {
      try {
        return messageEndpoint(url);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    })();
    const sent = await this.sendWithRetries(
      body,
      { url, token, timeoutMs: flags.timeout ?? config.timeoutMs },
      config,
    );
    if (!this.jsonEnabled())
      this.log(`sent message ${sent.id} (application ${sent.appid}) to ${endpoint.origin}`);
    return sent;
  }

  private async messageText(): Promise<string> {
    let text = this.args.message;
    if (text === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      text = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    }
    if (!text.trim()) throw new UsageError('the message is empty: Gotify requires a message');
    return text;
  }

  private async appToken(config: GotifyConfig): Promise<string> {
    try {
      const token = this.flags.token ?? this.flags['token-file'] ?? config.token;
      return await resolveToken({ ...config, token });
    } catch (error) {
      throw new UsageError(`${(error as Error).message}, or pass --token-file`);
    }
  }

  private createMessage(message: string, config: GotifyConfig): CreateMessage {
    const { flags } = this;
    const extras: Record<string, unknown> = {};
    if (flags.markdown) extras['client::display'] = { contentType: 'text/markdown' };
    if (flags['click-url']) extras['client::notification'] = { click: { url: flags['click-url'] } };
    return {
      message,
      ...(flags.title !== undefined ? { title: flags.title } : {}),
      priority: flags.priority ?? config.defaultPriority,
      ...(Object.keys(extras).length > 0 ? { extras } : {}),
    };
  }

  private async sendWithRetries(
    body: CreateMessage,
    target: { url: string; token: string; timeoutMs: number },
    config: GotifyConfig,
  ): Promise<GotifyMessage> {
    const retries = this.flags.retries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await postMessage(body, target);
      } catch (error) {
        if (!(error instanceof GotifyError)) throw error;
        if (error.kind === 'invalid-url') throw new UsageError(error.message);
        if (!error.retryable || attempt >= retries) {
          const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
          throw new MeshError(
            `gotify_${error.kind.replace(/-/g, '_')}`,
            `${error.message}${tries}`,
            HINT_BY_FAILURE[error.kind],
            EXIT_BY_FAILURE[error.kind],
          );
        }
        const delayMs = backoffDelay(attempt + 1, config.retry);
        this.logToStderr(`${error.message}; retrying in ${delayMs} ms`);
        await sleep(delayMs);
      }
    }
  }
}
