import { MAX_OUTPUT_CHUNK, MAX_SNAPSHOT } from './constants.js';
import { type NoticeCode, TERM_NOTICE, TERM_OUT, TERM_SNAPSHOT } from './protocol.js';
import type { Snapshot } from './screen.js';

/** The part of a FrameChannel an outbox needs (tests pass a fake). */
export interface FrameSink {
  send(header: { type: string; [field: string]: unknown }, body?: Uint8Array): Promise<void>;
  destroy(error?: Error): void;
}

export type SnapshotHeaderFields = (snapshot: Snapshot) => Record<string, unknown>;

export interface OutboxOptions {
  /** Output bytes a viewer may have queued before it is resynchronised with a fresh snapshot. */
  maxBuffered: number;
  /** A viewer that accepts no frame for this long is dropped. */
  stallMs: number;
  /** The current screen: a snapshot of everything pushed so far. */
  snapshot: () => Promise<Snapshot>;
  /** Header fields of a TERM_SNAPSHOT besides type and reason. */
  snapshotFields: SnapshotHeaderFields;
  onResync?: () => void;
  onDropped?: (reason: string) => void;
}

type Item =
  | { kind: 'out'; chunks: Buffer[]; size: number }
  | { kind: 'frame'; header: { type: string; [field: string]: unknown }; body?: Uint8Array }
  | { kind: 'snapshot'; reason: 'join' | 'resync'; snapshot: Promise<Snapshot> };

/**
 * One viewer's bounded queue. Pushing never waits: the owner's shell and the other viewers never
 * depend on how fast this viewer reads. When more than `maxBuffered` output bytes wait, the
 * queued output is replaced by a fresh snapshot of the screen; a viewer that stops reading
 * altogether is dropped.
 */
export class ViewerOutbox {
  private readonly items: Item[] = [];
  private buffered = 0;
  private wake: (() => void) | undefined;
  /** Output of this event-loop turn is being gathered (see wakeForOutput). */
  private gathering = false;
  private closed = false;
  private draining = false;
  private stallTimer: NodeJS.Timeout | undefined;
  readonly done: Promise<void>;
  resyncs = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly opts: OutboxOptions,
  ) {
    this.items.push({ kind: 'snapshot', reason: 'join', snapshot: opts.snapshot() });
    this.done = this.pump();
  }

  /** Queued output bytes. */
  get queuedBytes(): number {
    return this.buffered;
  }

  pushOutput(chunk: Buffer): void {
    if (this.closed) return;
    if (this.buffered + chunk.length > this.opts.maxBuffered) {
      this.resync();
      return;
    }
    const last = this.items.at(-1);
    if (last?.kind === 'out' && last.size + chunk.length <= MAX_OUTPUT_CHUNK) {
      last.chunks.push(chunk);
      last.size += chunk.length;
    } else {
      for (let offset = 0; offset < chunk.length; offset += MAX_OUTPUT_CHUNK) {
        const part = chunk.subarray(offset, offset + MAX_OUTPUT_CHUNK);
        this.items.push({ kind: 'out', chunks: [part], size: part.length });
      }
    }
    this.buffered += chunk.length;
    this.wakeForOutput();
  }

  /**
   * The first output of an event-loop turn goes out at once: a keystroke's echo waits for nothing.
   * What follows in the same turn (a flood arrives as many 4 KiB reads) is gathered into one frame,
   * sent when the turn's I/O is done, instead of a frame and a trip to the QUIC thread per read.
   */
  private wakeForOutput(): void {
    if (this.gathering) return;
    this.gathering = true;
    this.wake?.();
    setImmediate(() => {
      this.gathering = false;
      this.wake?.();
    });
  }

  /** A control frame, ordered with the output around it. */
  pushFrame(header: { type: string; [field: string]: unknown }, body?: Uint8Array): void {
    if (this.closed) return;
    this.items.push({ kind: 'frame', header, body });
    this.wake?.();
  }

  /** Sends what is queued, then stops; `done` resolves once sent (or the viewer is gone). */
  finish(): Promise<void> {
    this.draining = true;
    this.wake?.();
    return this.done;
  }

  /** Drops the viewer now, with a message it may still receive. */
  drop(reason: string, code: NoticeCode = 'dropped'): void {
    if (this.closed) return;
    this.closed = true;
    this.items.length = 0;
    this.opts.onDropped?.(reason);
    // Best effort: a viewer that stalled cannot read it, one that is merely slow can.
    const notice = this.sink.send({ type: TERM_NOTICE, code, message: reason }).catch(() => {});
    const timer = setTimeout(() => this.sink.destroy(new Error(reason)), 1000);
    void notice.then(() => {
      clearTimeout(timer);
      this.sink.destroy(new Error(reason));
    });
    this.wake?.();
  }

  /** Closes without sending anything more (the viewer left). */
  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.wake?.();
  }

  private resync(): void {
    // The snapshot is asked for now, so it covers exactly the output dropped here (and the
    // chunk being pushed); output pushed later queues behind it.
    for (let i = this.items.length - 1; i >= 0; i--) {
      const kind = this.items[i]?.kind;
      if (kind === 'out' || kind === 'snapshot') this.items.splice(i, 1);
    }
    this.buffered = 0;
    this.resyncs++;
    this.opts.onResync?.();
    this.items.push({ kind: 'snapshot', reason: 'resync', snapshot: this.opts.snapshot() });
    this.wake?.();
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed) {
        const item = this.items.shift();
        if (!item) {
          if (this.draining) break;
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          this.wake = undefined;
          continue;
        }
        await this.sendItem(item);
      }
    } catch (error) {
      // The viewer went away; its reader reports why.
      this.closed = true;
      this.items.length = 0;
      this.sink.destroy(error as Error);
    } finally {
      clearTimeout(this.stallTimer);
    }
  }

  private async sendItem(item: Item): Promise<void> {
    if (item.kind === 'out') {
      this.buffered -= item.size;
      const body = item.chunks.length === 1 ? item.chunks[0]! : Buffer.concat(item.chunks, item.size);
      await this.guarded(this.sink.send({ type: TERM_OUT }, body));
    } else if (item.kind === 'frame') {
      await this.guarded(this.sink.send(item.header, item.body));
    } else {
      const snapshot = await item.snapshot;
      // A newer resync may have replaced this one while the model was busy.
      if (this.closed) return;
      const body = snapshotBody(snapshot);
      await this.guarded(
        this.sink.send(
          { type: TERM_SNAPSHOT, ...this.opts.snapshotFields(snapshot), reason: item.reason },
          body,
        ),
      );
      if (item.reason === 'resync') {
        await this.guarded(
          this.sink.send({
            type: TERM_NOTICE,
            code: 'resync',
            message: 'you fell behind: output was skipped and the screen redrawn',
          }),
        );
      }
    }
  }

  /** A send that must complete within `stallMs`, or the viewer is dropped. */
  private async guarded(sending: Promise<void>): Promise<void> {
    this.stallTimer = setTimeout(
      () => this.drop(`viewer accepted nothing for ${Math.round(this.opts.stallMs / 1000)} s`),
      this.opts.stallMs,
    );
    try {
      await sending;
    } finally {
      clearTimeout(this.stallTimer);
    }
  }
}

/** The serialized screen, or its plain text when the attributes make it too large for one frame. */
export function snapshotBody(snapshot: Snapshot): Buffer {
  const full = Buffer.from(snapshot.data, 'utf8');
  if (full.length <= MAX_SNAPSHOT) return full;
  const text = Buffer.from(snapshot.text, 'utf8');
  return text.length <= MAX_SNAPSHOT ? text : text.subarray(text.length - MAX_SNAPSHOT);
}

/** Every viewer's outbox: output and announcements go to all of them, each at its own pace. */
export class ViewerFanout<V extends { outbox: ViewerOutbox }> {
  readonly viewers = new Set<V>();

  add(viewer: V): void {
    this.viewers.add(viewer);
  }

  remove(viewer: V): void {
    this.viewers.delete(viewer);
  }

  get size(): number {
    return this.viewers.size;
  }

  output(chunk: Buffer): void {
    for (const viewer of this.viewers) viewer.outbox.pushOutput(chunk);
  }

  frame(header: { type: string; [field: string]: unknown }, body?: Uint8Array): void {
    for (const viewer of this.viewers) viewer.outbox.pushFrame(header, body);
  }

  /** Sends what every viewer has queued, within `ms`; laggards are dropped. */
  async finish(ms: number): Promise<void> {
    const all = Promise.all([...this.viewers].map((v) => v.outbox.finish()));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const viewer of this.viewers) viewer.outbox.drop('the session ended before you caught up');
        resolve();
      }, ms);
    });
    await Promise.race([all, late]);
    clearTimeout(timer);
  }
}
