import { randomUUID } from 'node:crypto';
import { backoffDelay, sleep } from './backoff.js';
import type { CreateMessage } from './client.js';
import type { RetrySettings } from './config.js';
import { GotifyError } from './errors.js';
import type { Spool, SpooledNotification } from './spool.js';

export interface QueueLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface QueueOptions {
  /** Delivers one message; throws a GotifyError that says whether a retry may help. */
  send(message: CreateMessage, signal: AbortSignal): Promise<unknown>;
  /** Notifications kept at most; the oldest is dropped beyond. */
  max: number;
  retry: RetrySettings;
  /** Where undelivered notifications survive a restart; none: memory only. */
  spool?: Spool;
  log: QueueLog;
  random?: () => number;
}

interface Entry extends SpooledNotification {
  attempts: number;
  /** Parked: not retried until a delivery succeeds again or the agent restarts. */
  parked: boolean;
}

export interface QueueStats {
  queued: number;
  parked: number;
  delivered: number;
  /** Rejected by the server as malformed (400): retrying cannot help. */
  rejected: number;
  /** Dropped because the queue was full. */
  overflowed: number;
}

/**
 * A bounded FIFO of notifications, delivered one at a time so they arrive in order. Network
 * errors, timeouts and 5xx are retried with exponential backoff; a 400 drops the message; any
 * other refusal (wrong token, wrong URL) parks it: kept in the spool, tried again after the next
 * successful delivery or restart. Nothing here throws into the caller.
 *
 * An outage is said once: the first failure of a kind is a warning (an error for a refusal),
 * the retries after it are quiet, and the first delivery after it says that Gotify works again.
 */
export class NotificationQueue {
  private entries: Entry[] = [];
  private running?: Promise<void>;
  private closed = false;
  private readonly stopping = new AbortController();
  private backingOff = false;
  private onBackoff?: () => void;
  /** The entry being sent or waiting for its retry. */
  private current?: Entry;
  private readonly counts = { delivered: 0, rejected: 0, overflowed: 0 };
  /** The failure told to the user (`unreachable`, or a refusal's kind) until a delivery works again. */
  private trouble?: string;
  /** Notifications dropped from the full queue since the last delivery. */
  private dropped = 0;

  private constructor(private readonly opts: QueueOptions) {}

  /** A queue holding what the spool kept from an earlier run, already delivering it. */
  static async open(opts: QueueOptions): Promise<NotificationQueue> {
    const queue = new NotificationQueue(opts);
    const restored = (await opts.spool?.load()) ?? [];
    for (const entry of restored) queue.push({ ...entry, attempts: 0, parked: false }, false);
    if (restored.length > 0)
      opts.log.info({ count: restored.length }, 'sending notifications left undelivered by an earlier run');
    queue.kick();
    return queue;
  }

  /** Queues a message (never blocks, never throws). */
  enqueue(message: CreateMessage): void {
    if (this.closed) {
      this.opts.log.warn({ title: message.title }, 'notification after shutdown: not sent');
      return;
    }
    this.push({ id: randomUUID(), at: Date.now(), message, attempts: 0, parked: false }, true);
    this.kick();
  }

  stats(): QueueStats {
    const parked = this.entries.filter((e) => e.parked).length;
    return { queued: this.entries.length - parked, parked, ...this.counts };
  }

  /** Resolves when nothing is left to try now (all delivered, rejected or parked). */
  async drained(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Stops delivering: gives what is queued up to `flushMs` to go out (unless the server is
   * failing already), aborts the request in flight and leaves the rest in the spool.
   */
  async close(flushMs = 0): Promise<void> {
    if (this.closed) return;
    if (flushMs > 0 && this.running && !this.backingOff) {
      // Wait while deliveries succeed; the first failure means the rest would only wait for a retry.
      const failing = new Promise<void>((resolve) => {
        this.onBackoff = resolve;
      });
      const deadline = new AbortController();
      await Promise.race([this.drained(), failing, sleep(flushMs, deadline.signal)]);
      deadline.abort();
      this.onBackoff = undefined;
    }
    this.closed = true;
    this.stopping.abort();
    await this.drained();
    const left = this.entries.length;
    if (left > 0) this.opts.log.info({ count: left }, 'undelivered notifications kept for the next start');
    await this.opts.spool?.close();
  }

  private push(entry: Entry, persist: boolean): void {
    while (this.entries.length >= this.opts.max) {
      // The oldest not being sent right now: a request in flight may well arrive.
      const at = this.entries[0] === this.current && this.entries.length > 1 ? 1 : 0;
      const [oldest] = this.entries.splice(at, 1) as [Entry];
      this.counts.overflowed++;
      this.opts.spool?.remove(oldest.id);
      // Once until a delivery works: while Gotify is away every new event would say it again.
      this.opts.log[this.dropped++ === 0 ? 'warn' : 'debug'](
        { max: this.opts.max, title: oldest.message.title },
        'notification queue full: dropping the oldest notifications until Gotify takes them again',
      );
    }
    this.entries.push(entry);
    if (persist) this.opts.spool?.add(entry);
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      const entry = this.entries.find((e) => !e.parked);
      if (!entry || this.closed) return;
      this.current = entry;
      await this.attempt(entry);
      this.current = undefined;
    }
  }

  private async attempt(entry: Entry): Promise<void> {
    entry.attempts++;
    try {
      await this.opts.send(entry.message, this.stopping.signal);
    } catch (error) {
      if (this.closed) return;
      await this.failed(entry, error);
      return;
    }
    this.counts.delivered++;
    this.forget(entry);
    this.recovered();
    // The server takes messages again: what was parked gets another chance.
    for (const e of this.entries) {
      if (e.parked) {
        e.parked = false;
        e.attempts = 0;
      }
    }
  }

  private async failed(entry: Entry, error: unknown): Promise<void> {
    const err = error instanceof GotifyError ? error : undefined;
    const reason = (error as Error).message;
    const { retry } = this.opts;
    if (err?.retryable && (retry.maxAttempts === 0 || entry.attempts < retry.maxAttempts)) {
      const delayMs = backoffDelay(entry.attempts, retry, this.opts.random);
      const fields = { attempt: entry.attempts, delayMs, kind: err.kind };
      if (this.troubleBegins('unreachable'))
        this.opts.log.warn(
          fields,
          `notifications paused: ${reason}; they are kept and retried quietly until Gotify answers`,
        );
      else this.opts.log.debug(fields, `Gotify delivery failed, retrying: ${reason}`);
      this.backingOff = true;
      this.onBackoff?.();
      await sleep(delayMs, this.stopping.signal);
      this.backingOff = false;
      return;
    }
    if (err?.kind === 'bad-request') {
      this.counts.rejected++;
      this.forget(entry);
      // Gotify answered: it is this message it refuses, not an outage.
      this.recovered();
      this.opts.log.error({ kind: err.kind, title: entry.message.title }, `notification dropped: ${reason}`);
      return;
    }
    entry.parked = true;
    const kind = err?.kind ?? 'internal';
    // Out of attempts while unreachable: the pause was said already.
    this.opts.log[this.troubleBegins(err?.retryable ? 'unreachable' : kind) ? 'error' : 'debug'](
      { kind, attempts: entry.attempts },
      `notification not delivered: ${reason}; kept to retry after the next successful delivery or restart`,
    );
  }

  /** Whether `kind` is news: the user has not been told of it since the last delivery. */
  private troubleBegins(kind: string): boolean {
    if (this.trouble === kind) return false;
    this.trouble = kind;
    return true;
  }

  /** Gotify takes notifications again: say so once, if an outage was reported. */
  private recovered(): void {
    if (this.trouble) {
      const dropped = this.dropped > 0 ? `; ${this.dropped} dropped meanwhile (queue full)` : '';
      const waiting = this.entries.length;
      this.opts.log.info(
        { waiting, dropped: this.dropped },
        `Gotify works again: notifications resume (${waiting} waiting${dropped})`,
      );
    }
    this.trouble = undefined;
    this.dropped = 0;
  }

  private forget(entry: Entry): void {
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
    this.opts.spool?.remove(entry.id);
  }
}
