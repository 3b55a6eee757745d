import { Worker } from 'node:worker_threads';

export interface ScreenWorkerData {
  cols: number;
  rows: number;
}

export type ScreenRequest =
  | { t: 'write'; data: Uint8Array }
  | { t: 'resize'; cols: number; rows: number }
  | { t: 'snapshot'; id: number };

export type ScreenReply =
  | { t: 'parsed'; bytes: number }
  | { t: 'snapshot'; id: number; data: string; text: string; cols: number; rows: number };

export interface Snapshot {
  /** Escape sequences that redraw the screen (colours, cursor) in a blank terminal of this size. */
  data: string;
  /** The same screen as plain text. */
  text: string;
  cols: number;
  rows: number;
}

export interface ScreenModelOptions {
  cols: number;
  rows: number;
}

/** Output posted to the model at once, at the latest after FLUSH_DELAY_MS. */
const FLUSH_BYTES = 256 * 1024;
const FLUSH_DELAY_MS = 2;

/**
 * The shared terminal's current screen: a headless xterm fed with every output byte, in a
 * worker thread. A snapshot reflects exactly the output written before it was asked for.
 */
export class ScreenModel {
  private readonly worker: Worker;
  private readonly waiting = new Map<
    number,
    { resolve: (s: Snapshot) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private unparsed = 0;
  private failure: Error | undefined;
  /** Output of this turn, posted to the worker as one message (see `flush`). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(opts: ScreenModelOptions) {
    const data: ScreenWorkerData = { cols: opts.cols, rows: opts.rows };
    this.worker = new Worker(new URL('./screen-worker.js', import.meta.url), { workerData: data });
    this.worker.on('message', (message: ScreenReply) => this.onReply(message));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(new Error('screen model stopped')));
  }

  /** Output bytes written but not parsed yet: the producer slows down while this is large. */
  get backlog(): number {
    return this.unparsed;
  }

  write(chunk: Uint8Array): void {
    if (this.failure || chunk.byteLength === 0) return;
    this.unparsed += chunk.byteLength;
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.flushTimer ??= setTimeout(this.flush, FLUSH_DELAY_MS);
  }

  /**
   * Posts the output gathered so far as one message, in a fresh buffer that is transferred, not
   * cloned: a flood reads the PTY in many small chunks, and a message per chunk cost both threads
   * more than the copy. The short wait also keeps the model's thread from waking while a keystroke's
   * echo is on its way to the viewers. The chunks stay untouched (viewers' outboxes hold them).
   */
  private readonly flush = (): void => {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const data = new Uint8Array(this.pendingBytes);
    let offset = 0;
    for (const chunk of this.pending) {
      data.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.pending = [];
    this.pendingBytes = 0;
    if (this.failure) return;
    const request: ScreenRequest = { t: 'write', data };
    this.worker.postMessage(request, [data.buffer]);
  };

  resize(cols: number, rows: number): void {
    if (this.failure) return;
    // In order with the output before it.
    this.flush();
    const request: ScreenRequest = { t: 'resize', cols, rows };
    this.worker.postMessage(request);
  }

  snapshot(): Promise<Snapshot> {
    if (this.failure) return Promise.reject(this.failure);
    // Everything written before this call is covered by the snapshot.
    this.flush();
    const id = this.nextId++;
    const request: ScreenRequest = { t: 'snapshot', id };
    this.worker.postMessage(request);
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  async close(): Promise<void> {
    this.failure ??= new Error('screen model closed');
    this.flush();
    await this.worker.terminate();
  }

  private onReply(message: ScreenReply): void {
    if (message.t === 'parsed') {
      this.unparsed -= message.bytes;
      return;
    }
    const waiter = this.waiting.get(message.id);
    this.waiting.delete(message.id);
    waiter?.resolve({ data: message.data, text: message.text, cols: message.cols, rows: message.rows });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
    // A dead model must not hold the shell back.
    this.unparsed = 0;
  }
}
