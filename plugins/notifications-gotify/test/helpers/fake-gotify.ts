import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';

/** Gotify's published REST contract, vendored (source and licence in test/contracts/README.md). */
const SPEC_PATH = resolve(import.meta.dirname, '../contracts/gotify-spec.json');

interface SchemaObject {
  required?: string[];
  properties?: Record<string, unknown>;
}
interface Spec {
  paths: Record<string, { post?: { consumes?: string[]; security?: Array<Record<string, unknown>> } }>;
  definitions: Record<string, SchemaObject>;
  securityDefinitions: Record<string, { type: string; name?: string; in?: string }>;
}

export const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Spec;

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
ajv.addFormat('date-time', {
  type: 'string',
  validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(s) && !Number.isNaN(Date.parse(s)),
});

/** Validators compiled straight from the contract's definitions. */
export const contract = {
  createMessage: ajv.compile(spec.definitions.CreateMessage as object),
  message: ajv.compile(spec.definitions.Message as object),
  error: ajv.compile(spec.definitions.Error as object),
};

export interface ReceivedMessage {
  body: { message: string; title?: string; priority?: number; extras?: Record<string, unknown> };
  /** How the token came: header, query or bearer. */
  auth: 'header' | 'query' | 'bearer';
  /** The Message the fake answered with. */
  answer: Record<string, unknown>;
}

/** What the next request gets instead of the normal answer. */
export type Scripted = { status: number; description?: string } | { delayMs: number } | { raw: string };

export interface FakeGotifyOptions {
  /** Application tokens the server knows. */
  tokens?: string[];
  /** Tokens that exist but may not post (a 403). */
  forbiddenTokens?: string[];
  port?: number;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/**
 * A Gotify server on 127.0.0.1 that checks every request against the published contract
 * (path, method, content type, app-token auth in one of the three places the spec allows, body
 * valid against `CreateMessage` and nothing outside it) and answers with the contract's `Message`
 * or `Error` shapes. Contract violations are collected in `violations` and answered 400.
 */
export class FakeGotify {
  readonly received: ReceivedMessage[] = [];
  readonly violations: string[] = [];
  /** Every request, answered or not. */
  requests = 0;
  readonly script: Scripted[] = [];
  private readonly server: Server;
  private nextId = 1;
  port = 0;

  constructor(private readonly opts: FakeGotifyOptions = {}) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => {
        this.violations.push(`fake server failed: ${error.message}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<this> {
    await new Promise<void>((ok, fail) => {
      this.server.once('error', fail);
      this.server.listen(this.opts.port ?? 0, '127.0.0.1', () => ok());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');

    if (url.pathname !== '/message' || req.method !== 'POST') {
      this.violations.push(`${req.method} ${url.pathname}: not POST /message`);
      return this.fail(res, 404, 'page not found');
    }
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.startsWith('application/json')) {
      this.violations.push(`content-type ${contentType}: the contract consumes application/json`);
      return this.fail(res, 400, 'content type must be application/json');
    }

    const presented = this.credentials(req, url);
    if (presented.length !== 1) {
      if (presented.length > 1) this.violations.push(`token sent ${presented.length} ways at once`);
      return this.fail(
        res,
        401,
        'you need to provide a valid access token or user credentials to access this api',
      );
    }
    const [{ token, auth }] = presented as [{ token: string; auth: ReceivedMessage['auth'] }];
    if (this.opts.forbiddenTokens?.includes(token))
      return this.fail(res, 403, 'you are not allowed to access this api');
    if (!(this.opts.tokens ?? []).includes(token))
      return this.fail(
        res,
        401,
        'you need to provide a valid access token or user credentials to access this api',
      );

    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      this.violations.push(`body is not JSON: ${raw.slice(0, 80)}`);
      return this.fail(res, 400, 'invalid JSON');
    }
    if (!contract.createMessage(body)) {
      this.violations.push(`body violates CreateMessage: ${JSON.stringify(contract.createMessage.errors)}`);
      return this.fail(res, 400, 'Field validation for Message failed');
    }
    const known = Object.keys(spec.definitions.CreateMessage?.properties ?? {});
    const extra = Object.keys(body as object).filter((k) => !known.includes(k));
    if (extra.length > 0) this.violations.push(`fields outside CreateMessage: ${extra.join(', ')}`);
    // The contract: with an application token "any appid in the body is ignored"; sending one is a client bug.
    if ('appid' in (body as object)) this.violations.push('appid sent with an application token');

    const scripted = this.script.shift();
    if (scripted && 'delayMs' in scripted) await new Promise((r) => setTimeout(r, scripted.delayMs));
    if (scripted && 'status' in scripted)
      return this.fail(res, scripted.status, scripted.description ?? STATUS_TEXT[scripted.status] ?? 'error');
    if (scripted && 'raw' in scripted) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(scripted.raw);
      return;
    }

    const message = body as ReceivedMessage['body'];
    const answer = {
      id: this.nextId++,
      appid: 7,
      message: message.message,
      title: message.title ?? 'app',
      priority: message.priority ?? 0,
      extras: message.extras,
      date: new Date().toISOString(),
    };
    if (!contract.message(answer)) this.violations.push('the fake answered a non-Message');
    this.received.push({ body: message, auth, answer });
    if (!res.destroyed)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  }

  /** The app tokens presented, per the contract's security definitions for POST /message. */
  private credentials(
    req: IncomingMessage,
    url: URL,
  ): Array<{ token: string; auth: ReceivedMessage['auth'] }> {
    const found: Array<{ token: string; auth: ReceivedMessage['auth'] }> = [];
    const header = req.headers['x-gotify-key'];
    if (typeof header === 'string' && header) found.push({ token: header, auth: 'header' });
    const query = url.searchParams.get('token');
    if (query) found.push({ token: query, auth: 'query' });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (bearer?.[1]) found.push({ token: bearer[1], auth: 'bearer' });
    return found;
  }

  private fail(res: ServerResponse, status: number, description: string): void {
    const body = { error: STATUS_TEXT[status] ?? 'Error', errorCode: status, errorDescription: description };
    if (!contract.error(body)) this.violations.push('the fake answered a non-Error');
    if (!res.destroyed)
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

/** A started fake with one known app token `A_app_token_1` and a forbidden one `C_client_token`. */
export function startFakeGotify(opts: FakeGotifyOptions = {}): Promise<FakeGotify> {
  return new FakeGotify({ tokens: ['A_app_token_1'], forbiddenTokens: ['C_client_token'], ...opts }).listen();
}
export const APP_TOKEN = 'A_app_token_1';
export const FORBIDDEN_TOKEN = 'C_client_token';
