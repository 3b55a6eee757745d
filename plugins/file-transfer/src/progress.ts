import { formatBytes } from '@mesh-agent/host';

/** How far one transfer is; what progress sinks (the CLI bar, plugin events) are fed. */
export interface Progress {
  name: string;
  size: number;
  /** Bytes of the file the receiver holds (the resumed prefix included). */
  done: number;
  /** Bytes carried over this connection so far. */
  sent: number;
  startedAt: number;
}

/** Calls `fn` at most once per `intervalMs`; `flush` forces the last call. */
export function throttle<T>(
  intervalMs: number,
  fn: (value: T) => void,
): { push(value: T): void; flush(value: T): void } {
  let last = 0;
  return {
    push(value) {
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      fn(value);
    },
    flush(value) {
      last = Date.now();
      fn(value);
    },
  };
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** MB/s (10^6 bytes) of `bytes` over `ms`. */
export function megabytesPerSecond(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / (ms / 1000) : 0;
}

/**
 * Progress on stderr: a redrawn bar with bytes, rate and ETA on a TTY; otherwise a quiet line
 * every few seconds and one at the end, so logs stay readable.
 */
export class ProgressReporter {
  private readonly tty: boolean;
  private readonly tick: ReturnType<typeof throttle<Progress>>;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
    this.tick = throttle(this.tty ? 100 : 5_000, (p) => this.draw(p));
  }

  update(p: Progress): void {
    this.tick.push(p);
  }

  finish(p: Progress, outcome: string): void {
    if (this.tty) this.out.write('\r\u001b[2K');
    const rate = megabytesPerSecond(p.sent, Date.now() - p.startedAt);
    this.out.write(`${p.name}: ${outcome} ${formatBytes(p.size)} (${rate.toFixed(1)} MB/s)\n`);
  }

  /** The last line of a transfer that failed with `code`; a cancelled one says how far it got. */
  stopped(p: Progress, code: string): void {
    this.finish(p, code === 'CANCELLED' ? `cancelled at ${formatBytes(p.done)} of` : 'FAILED');
  }

  private draw(p: Progress): void {
    const elapsed = Date.now() - p.startedAt;
    const rate = megabytesPerSecond(p.sent, elapsed);
    const eta = rate > 0 ? (p.size - p.done) / 1e6 / rate : Number.POSITIVE_INFINITY;
    const fraction = p.size > 0 ? p.done / p.size : 1;
    const text = `${formatBytes(p.done)} / ${formatBytes(p.size)}  ${rate.toFixed(1)} MB/s  ETA ${formatSeconds(eta)}`;
    if (!this.tty) {
      this.out.write(`${p.name}: ${(fraction * 100).toFixed(0)}% ${text}\n`);
      return;
    }
    const width = 24;
    const filled = Math.round(fraction * width);
    const name = p.name.length > 24 ? `${p.name.slice(0, 23)}…` : p.name;
    this.out.write(`\r\u001b[2K${name} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
  }
}
