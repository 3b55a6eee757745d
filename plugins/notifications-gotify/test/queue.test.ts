import { spawn, spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import { type CreateMessage, postMessage } from '../src/client.js';
import type { RetrySettings } from '../src/config.js';
import { NotificationQueue } from '../src/queue.js';
import { Spool } from '../src/spool.js';
import { APP_TOKEN, closedPort, FakeGotify, startFakeGotify } from './helpers/fake-gotify.js';

const CRASHING_QUEUE = resolve(import.meta.dirname, 'fixtures/crashing-queue.ts');
const FAST: RetrySettings = { initialDelayMs: 20, maxDelayMs: 80, factor: 2, maxAttempts: 0 };

class Log {
  readonly lines: Array<{ level: string; msg: string; obj: object }> = [];
  debug = (obj: object, msg: string) => this.lines.push({ level: 'debug', msg, obj });
  info = (obj: object, msg: string) => this.lines.push({ level: 'info', msg, obj });
  warn = (obj: object, msg: string) => this.lines.push({ level: 'warn', msg, obj });
  error = (obj: object, msg: string) => this.lines.push({ level: 'error', msg, obj });
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.msg);
  }
}

/** Where the queue's sender points; tests move it between servers. */
interface Target {
  url: string;
  token: string;
}

function sender(target: Target) {
  return (message: CreateMessage, signal: AbortSignal) =>
    postMessage(message, { url: target.url, token: target.token, timeoutMs: 1000, signal });
}

const msg = (n: number): CreateMessage => ({ title: `t${n}`, message: `m${n}`, priority: 5 });

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('backoffDelay', () => {
  it('grows exponentially, is capped and jittered within [ceiling/2, ceiling]', () => {
    const s = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, s, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect([1, 2, 3].map((a) => backoffDelay(a, s, () => 0))).toEqual([50, 100, 200]);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, s);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });
});

describe('NotificationQueue', () => {
  let dir: string;
  let gotify: FakeGotify;
  const queues: NotificationQueue[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gotify-queue-'));
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    if (gotify) {
      expect(gotify.violations).toEqual([]);
      await gotify.close();
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function open(
    target: Target,
    opts: { max?: number; spoolFile?: string; retry?: RetrySettings; log?: Log } = {},
  ) {
    const log = opts.log ?? new Log();
    const spool = opts.spoolFile ? new Spool(opts.spoolFile, log) : undefined;
    if (spool) expect(await spool.acquire()).toBe(true);
    const queue = await NotificationQueue.open({
      send: sender(target),
      max: opts.max ?? 100,
      retry: opts.retry ?? FAST,
      spool,
      log,
    });
    queues.push(queue);
    return { queue, log, spool };
  }

  it('delivers in order and leaves no spool behind', async () => {
    gotify = await startFakeGotify();
    const spoolFile = join(dir, 'order.jsonl');
    const { queue } = await open({ url: gotify.url, token: APP_TOKEN }, { spoolFile });
    for (let i = 1; i <= 5; i++) queue.enqueue(msg(i));
    await queue.drained();
    expect(gotify.received.map((r) => r.body.title)).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(queue.stats()).toMatchObject({ queued: 0, delivered: 5 });
    await queue.close();
    await expect(readFile(spoolFile, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stays bounded while the server is down: drops the oldest with a warning, keeps the newest', async () => {
    const port = await closedPort();
    const { queue, log } = await open({ url: `http://127.0.0.1:${port}`, token: APP_TOKEN }, { max: 3 });
    queue.enqueue(msg(1));
    await until(() => log.at('warn').length > 0);
    for (let i = 2; i <= 10; i++) queue.enqueue(msg(i));
    expect(queue.stats()).toMatchObject({ queued: 3, overflowed: 7 });
    // Said once while Gotify is away, not once per dropped notification.
    expect(log.at('warn').filter((m) => m.includes('queue full'))).toHaveLength(1);
    gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    await until(() => gotify.received.length === 3);
    await queue.drained();
    // t1 is the one being retried: it stays; the oldest behind it go.
    expect(gotify.received.map((r) => r.body.title)).toEqual(['t1', 't9', 't10']);
  });

  it('retries 5xx with growing delays, then delivers once', async () => {
    gotify = await startFakeGotify();
    gotify.script.push({ status: 500 }, { status: 503 }, { status: 502 });
    const { queue, log } = await open({ url: gotify.url, token: APP_TOKEN });
    queue.enqueue(msg(1));
    await until(() => gotify.received.length === 1);
    await queue.drained();
    expect(gotify.requests).toBe(4);
    expect(gotify.received).toHaveLength(1);
    const delays = log.lines
      .map((l) => (l.obj as { delayMs?: number }).delayMs)
      .filter((delay) => delay !== undefined);
    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeGreaterThanOrEqual(10);
    expect(delays[0]).toBeLessThanOrEqual(20);
    expect(delays[1]).toBeGreaterThanOrEqual(20);
    expect(delays[2]).toBeGreaterThanOrEqual(40);
  });

  it('retries a refused connection and a timeout until the server answers', async () => {
    const port = await closedPort();
    const { queue, log } = await open({ url: `http://127.0.0.1:${port}`, token: APP_TOKEN });
    queue.enqueue(msg(1));
    await until(() => log.lines.length >= 2);
    gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    gotify.script.push({ delayMs: 1500 });
    await until(() => gotify.received.length === 1, 8000);
    expect(gotify.requests).toBe(2);
    expect(log.at('warn').some((m) => m.includes('connection refused'))).toBe(true);
    // Still the same outage: the retry after the timeout is quiet.
    expect(log.at('debug').some((m) => m.includes('did not answer within 1000 ms'))).toBe(true);
  });

  it('says an outage once: one warning however many notifications wait, one line when Gotify is back', async () => {
    const port = await closedPort();
    const { queue, log } = await open({ url: `http://127.0.0.1:${port}`, token: APP_TOKEN });
    for (let i = 1; i <= 3; i++) queue.enqueue(msg(i));
    await until(() => log.at('debug').length >= 5);
    queue.enqueue(msg(4));
    await until(() => log.at('debug').length >= 8);
    expect(log.at('warn')).toEqual([
      `notifications paused: cannot reach Gotify at http://127.0.0.1:${port}/message: connection refused; ` +
        'they are kept and retried quietly until Gotify answers',
    ]);
    gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    await until(() => gotify.received.length === 4);
    await queue.drained();
    expect(log.at('info')).toEqual(['Gotify works again: notifications resume (3 waiting)']);
    expect(log.at('warn')).toHaveLength(1);
    expect(log.at('error')).toEqual([]);
  });

  it('says a wrong token once, not once per notification, and when a delivery works again', async () => {
    gotify = await startFakeGotify();
    const target = { url: gotify.url, token: 'wrong' };
    const { queue, log } = await open(target);
    for (let i = 1; i <= 3; i++) queue.enqueue(msg(i));
    await queue.drained();
    expect(queue.stats()).toMatchObject({ parked: 3 });
    expect(log.at('error')).toEqual([expect.stringMatching(/the Gotify application token is wrong/)]);
    target.token = APP_TOKEN;
    queue.enqueue(msg(4));
    await until(() => gotify.received.length === 4);
    expect(log.at('info')).toEqual(['Gotify works again: notifications resume (3 waiting)']);
  });

  it('drops a 400 after one try, with the server description', async () => {
    gotify = await startFakeGotify();
    gotify.script.push({ status: 400, description: 'title too long' });
    const spoolFile = join(dir, 'bad.jsonl');
    const { queue, log } = await open({ url: gotify.url, token: APP_TOKEN }, { spoolFile });
    queue.enqueue(msg(1));
    queue.enqueue(msg(2));
    await queue.drained();
    expect(gotify.requests).toBe(2);
    expect(gotify.received.map((r) => r.body.title)).toEqual(['t2']);
    expect(queue.stats()).toMatchObject({ rejected: 1, delivered: 1, queued: 0, parked: 0 });
    expect(log.at('error')).toEqual([expect.stringContaining('title too long')]);
  });

  it('parks a 401 without retrying, and sends it after the next success', async () => {
    gotify = await startFakeGotify();
    const target = { url: gotify.url, token: 'wrong' };
    const { queue, log } = await open(target);
    queue.enqueue(msg(1));
    await queue.drained();
    expect(gotify.requests).toBe(1);
    expect(queue.stats()).toMatchObject({ parked: 1, queued: 0 });
    expect(log.at('error')[0]).toMatch(/the Gotify application token is wrong/);
    target.token = APP_TOKEN;
    queue.enqueue(msg(2));
    await until(() => gotify.received.length === 2);
    await queue.drained();
    expect(gotify.received.map((r) => r.body.title)).toEqual(['t2', 't1']);
    expect(gotify.requests).toBe(3);
  });

  it('parks after maxAttempts retryable failures', async () => {
    const port = await closedPort();
    const { queue } = await open(
      { url: `http://127.0.0.1:${port}`, token: APP_TOKEN },
      { retry: { ...FAST, maxAttempts: 3 } },
    );
    queue.enqueue(msg(1));
    await queue.drained();
    expect(queue.stats()).toMatchObject({ parked: 1, queued: 0, delivered: 0 });
  });

  it('spools what is undelivered on close and sends it after a restart', async () => {
    const port = await closedPort();
    const spoolFile = join(dir, 'restart.jsonl');
    const target = { url: `http://127.0.0.1:${port}`, token: APP_TOKEN };
    const first = await open(target, { spoolFile });
    for (let i = 1; i <= 3; i++) first.queue.enqueue(msg(i));
    const started = Date.now();
    await first.queue.close(2000);
    expect(Date.now() - started).toBeLessThan(1000); // failing server: no flush wait
    const lines = (await readFile(spoolFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.message.title)).toEqual(['t1', 't2', 't3']);

    gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    const second = await open(target, { spoolFile });
    await until(() => gotify.received.length === 3);
    await second.queue.drained();
    expect(gotify.received.map((r) => r.body.title)).toEqual(['t1', 't2', 't3']);
    expect(second.log.at('info')).toContain('sending notifications left undelivered by an earlier run');
    await second.queue.close();
    await expect(readFile(spoolFile, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('survives a crash: entries are on disk as they are queued, a torn last line is skipped', async () => {
    const port = await closedPort();
    const spoolFile = join(dir, 'crash.jsonl');
    const target = { url: `http://127.0.0.1:${port}`, token: APP_TOKEN };
    const child = spawn(process.execPath, ['--import', 'tsx', CRASHING_QUEUE, spoolFile, target.url, '2'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((ok, fail) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('spooled') && ok());
      child.on('exit', (code) => fail(new Error(`crashing queue exited with ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    // The crash also cut a write in the middle.
    await appendFile(spoolFile, '{"id":"torn","at":1,"mess');

    gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    const restarted = await open(target, { spoolFile });
    await until(() => gotify.received.length === 2);
    await restarted.queue.drained();
    expect(gotify.received.map((r) => r.body.title)).toEqual(['t1', 't2']);
    expect(restarted.log.at('warn')).toContain('skipped unreadable lines of the Gotify spool');
  });

  it('gives queued notifications time to go out on close', async () => {
    gotify = await startFakeGotify();
    gotify.script.push({ delayMs: 200 });
    const { queue } = await open({ url: gotify.url, token: APP_TOKEN });
    queue.enqueue(msg(1));
    queue.enqueue(msg(2));
    await queue.close(3000);
    expect(gotify.received.map((r) => r.body.title)).toEqual(['t1', 't2']);
    queue.enqueue(msg(3));
    expect(queue.stats().queued).toBe(0);
  });
});

describe('Spool lock', () => {
  it('keeps a second live process out and takes over a dead one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gotify-lock-'));
    const path = join(dir, 'spool.jsonl');
    const log = new Log();
    const owner = new Spool(path, log);
    expect(await owner.acquire()).toBe(true);
    // Another live process holds it.
    await writeFile(`${path}.lock`, String(process.ppid));
    expect(await new Spool(path, log).acquire()).toBe(false);
    await writeFile(`${path}.lock`, String(deadPid()));
    const next = new Spool(path, log);
    expect(await next.acquire()).toBe(true);
    await next.close();
    await expect(readFile(`${path}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
    await rm(dir, { recursive: true, force: true });
  });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}
