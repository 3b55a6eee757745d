import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { messageEndpoint, postMessage } from '../src/client.js';
import { GotifyConnectionError, GotifyError, GotifyHttpError, GotifyTimeoutError } from '../src/errors.js';
import {
  APP_TOKEN,
  closedPort,
  type FakeGotify,
  FORBIDDEN_TOKEN,
  startFakeGotify,
} from './helpers/fake-gotify.js';

describe('postMessage against a server that checks the contract', () => {
  let gotify: FakeGotify;
  beforeAll(async () => {
    gotify = await startFakeGotify();
  });
  afterEach(() => {
    expect(gotify.violations).toEqual([]);
    gotify.script.length = 0;
  });
  afterAll(() => gotify.close());

  const send = (token = APP_TOKEN, timeoutMs = 2000) =>
    postMessage({ message: 'hello', title: 'T', priority: 4 }, { url: gotify.url, token, timeoutMs });

  it('posts a CreateMessage with the X-Gotify-Key header and returns the Message', async () => {
    const answer = await postMessage(
      {
        message: '**hi**',
        title: 'T',
        priority: 3,
        extras: { 'client::display': { contentType: 'text/markdown' } },
      },
      { url: `${gotify.url}/`, token: APP_TOKEN, timeoutMs: 2000 },
    );
    const last = gotify.received.at(-1);
    expect(last?.auth).toBe('header');
    expect(last?.body).toEqual({
      message: '**hi**',
      title: 'T',
      priority: 3,
      extras: { 'client::display': { contentType: 'text/markdown' } },
    });
    expect(answer).toEqual(last?.answer);
    expect(answer).toMatchObject({ appid: 7, message: '**hi**' });
  });

  it('classifies a wrong token as 401 "the Gotify application token is wrong", not retryable', async () => {
    const error = await send('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GotifyHttpError);
    expect(error).toMatchObject({ kind: 'unauthorized', status: 401, retryable: false });
    expect((error as Error).message).toMatch(/401.*the Gotify application token is wrong/);
    expect((error as Error).message).not.toContain('nope');
  });

  it('classifies 403', async () => {
    await expect(send(FORBIDDEN_TOKEN)).rejects.toMatchObject({
      kind: 'forbidden',
      status: 403,
      retryable: false,
    });
  });

  it('reports the errorDescription of a 400', async () => {
    gotify.script.push({
      status: 400,
      description: 'Field validation for Message failed on the required tag',
    });
    const error = (await send().catch((e: unknown) => e)) as GotifyHttpError;
    expect(error).toMatchObject({ kind: 'bad-request', status: 400, retryable: false });
    expect(error.message).toContain('Field validation for Message failed on the required tag');
  });

  it('marks 5xx as retryable', async () => {
    gotify.script.push({ status: 500, description: 'database is locked' });
    await expect(send()).rejects.toMatchObject({ kind: 'server', status: 500, retryable: true });
  });

  it('times out a slow answer', async () => {
    gotify.script.push({ delayMs: 1500 });
    const started = Date.now();
    const error = await send(APP_TOKEN, 200).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GotifyTimeoutError);
    expect(error).toMatchObject({ kind: 'timeout', retryable: true });
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it('refuses a 200 that is not a Gotify Message', async () => {
    gotify.script.push({ raw: '<html>login</html>' });
    await expect(send()).rejects.toMatchObject({ kind: 'bad-response', retryable: false });
  });

  it('aborts on the caller signal', async () => {
    gotify.script.push({ delayMs: 1000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(
      postMessage(
        { message: 'x' },
        { url: gotify.url, token: APP_TOKEN, timeoutMs: 5000, signal: controller.signal },
      ),
    ).rejects.toMatchObject({ kind: 'aborted' });
  });
});

describe('postMessage without a server', () => {
  it('names a refused connection', async () => {
    const port = await closedPort();
    const error = await postMessage(
      { message: 'x' },
      { url: `http://127.0.0.1:${port}`, token: 't', timeoutMs: 2000 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GotifyConnectionError);
    expect(error).toMatchObject({ kind: 'connection', code: 'ECONNREFUSED', retryable: true });
    expect((error as Error).message).toMatch(/connection refused/);
  });

  it('rejects invalid URLs before any request', async () => {
    for (const url of ['not a url', 'ftp://host', 'https://user:pw@host']) {
      await expect(postMessage({ message: 'x' }, { url, token: 't', timeoutMs: 100 })).rejects.toMatchObject({
        kind: 'invalid-url',
      });
    }
    expect(() => messageEndpoint('ws://x')).toThrow(GotifyError);
  });

  it('keeps a reverse-proxy path prefix and drops query and fragment', () => {
    expect(messageEndpoint('https://h.example/gotify/').href).toBe('https://h.example/gotify/message');
    expect(messageEndpoint('https://h.example/gotify?x=1#y').href).toBe('https://h.example/gotify/message');
    expect(messageEndpoint('http://h:8080').href).toBe('http://h:8080/message');
  });
});

describe('the fake Gotify holds requests to the contract', () => {
  it('accepts the token in the query or as a bearer, and flags bodies, paths and auth outside the contract', async () => {
    const gotify = await startFakeGotify();
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${gotify.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    expect((await post(`/message?token=${APP_TOKEN}`, { message: 'q' })).status).toBe(200);
    expect((await post('/message', { message: 'b' }, { authorization: `Bearer ${APP_TOKEN}` })).status).toBe(
      200,
    );
    expect(gotify.received.map((r) => r.auth)).toEqual(['query', 'bearer']);
    expect(gotify.violations).toEqual([]);

    const missing = await post('/message', { title: 'no message' }, { 'x-gotify-key': APP_TOKEN });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'Bad Request', errorCode: 400 });
    expect((await post('/message', { message: 1 }, { 'x-gotify-key': APP_TOKEN })).status).toBe(400);
    await post('/message', { message: 'x', appid: 3 }, { 'x-gotify-key': APP_TOKEN });
    expect((await post('/messages', { message: 'x' }, { 'x-gotify-key': APP_TOKEN })).status).toBe(404);
    expect(
      (await post(`/message?token=${APP_TOKEN}`, { message: 'x' }, { 'x-gotify-key': APP_TOKEN })).status,
    ).toBe(401);
    expect(gotify.violations).toEqual([
      expect.stringContaining('violates CreateMessage'),
      expect.stringContaining('violates CreateMessage'),
      'appid sent with an application token',
      'POST /messages: not POST /message',
      'token sent 2 ways at once',
    ]);
    await gotify.close();
  });
});
