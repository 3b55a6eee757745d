import { Worker } from 'node:worker_threads';
import type { Snapshot } from './screen-parser.js';

export type { Snapshot } from './screen-parser.js';

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

export interface ScreenModelOptions {
  cols: number;
  rows: number;
  /** Output held back unparsed at most; default HOLD_BYTES. */
  holdBytes?: number;
}

/** Unparsed output held in this thread: parsing it for a snapshot takes well under a second. */
export const HOLD_BYTES = 4 * 1024 * 1024;
const FIRST_HOLD = 64 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * The shared terminal's current screen: a headless xterm in a worker thread, fed lazily. Output is
 * held here, unparsed, until a snapshot or a resize needs it or more than `holdBytes` wait; then it
 * goes to the worker in one message. Typing then costs the worker nothing, and a flood reaches it
 * in large pieces, mostly skipped (ScreenParser). A snapshot reflects exactly the output written
 * before it was asked for.
 */
export class ScreenModel {
  private readonly worker: Worker;
  private readonly waiting = new Map<
    number,
    { resolve: (s: Snapshot) => void; reject: (e: Error) => void }
  >();
  private readonly holdLimit: number;
  private nextId = 1;
  /** Posted to the worker, not parsed yet. */
  private inFlight = 0;
  private failure: Error | undefined;
  /** Held output: the first `heldBytes` bytes of `held`. */
  private held: Uint8Array = EMPTY;
  private heldBytes = 0;
  /** Size of the last hold flushed: a flood starts the next one at that size instead of growing it again. */
  private lastHold = FIRST_HOLD;

  constructor(opts: ScreenModelOptions) {
    this.holdLimit = opts.holdBytes ?? HOLD_BYTES;
    const data: ScreenWorkerData = { cols: opts.cols, rows: opts.rows };
    this.worker = new Worker(new URL('./screen-worker.js', import.meta.url), { workerData: data });
    this.worker.on('message', (message: ScreenReply) => this.onReply(message));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(new Error('screen model stopped')));
  }

  /** Output bytes written but not parsed yet: the producer slows down while this is large. */
  get backlog(): number {
    return this.heldBytes + this.inFlight;
  }

  /** Keeps a copy of `chunk` (the caller's chunks go on to viewers untouched). */
  write(chunk: Uint8Array): void {
    if (this.failure || chunk.byteLength === 0) return;
    if (this.heldBytes + chunk.byteLength > this.holdLimit) this.flush();
    const needed = this.heldBytes + chunk.byteLength;
    if (needed > this.held.length) {
      let size = Math.max(this.held.length, this.lastHold);
      while (size < needed) size *= 2;
      // Not zeroed: only the first heldBytes are ever read.
      const grown = Buffer.allocUnsafeSlow(size);
      grown.set(this.held.subarray(0, this.heldBytes));
      this.held = grown;
    }
    this.held.set(chunk, this.heldBytes);
    this.heldBytes = needed;
    if (this.heldBytes >= this.holdLimit) this.flush();
  }

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
    this.held = EMPTY;
    this.heldBytes = 0;
    await this.worker.terminate();
  }

  /** Hands the held output to the worker, transferred rather than cloned. */
  private flush(): void {
    if (this.heldBytes === 0) return;
    const data = this.held.subarray(0, this.heldBytes);
    this.lastHold = this.held.length;
    this.inFlight += this.heldBytes;
    this.held = EMPTY;
    this.heldBytes = 0;
    const request: ScreenRequest = { t: 'write', data };
    this.worker.postMessage(request, [data.buffer as ArrayBuffer]);
  }

  private onReply(message: ScreenReply): void {
    if (message.t === 'parsed') {
      this.inFlight -= message.bytes;
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
    this.inFlight = 0;
    this.held = EMPTY;
    this.heldBytes = 0;
  }
}
