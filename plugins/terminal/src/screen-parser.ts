import { SerializeAddon } from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import { findSkips } from './skippable-output.js';

export interface Snapshot {
  /** Escape sequences that redraw the screen (colours, cursor) in a blank terminal of this size. */
  data: string;
  /** The same screen as plain text. */
  text: string;
  cols: number;
  rows: number;
}

/** The parts of xterm's internals that tell whether plain text may be skipped (see findSkips). */
interface XtermInternals {
  _core?: {
    buffer?: { y?: unknown; scrollTop?: unknown; scrollBottom?: unknown };
    _inputHandler?: { _parser?: { currentState?: unknown }; _getCurrentLinkId?: () => unknown };
  };
}

type Task = (done: () => void) => void;

/**
 * A headless xterm without scrollback that parses output, resizes and serializes strictly in the
 * order asked. Long runs of plain text are mostly skipped (findSkips): a flood costs a scan of its
 * bytes instead of a parse, with the same resulting screen.
 */
export class ScreenParser {
  private readonly term: InstanceType<typeof xtermHeadless.Terminal>;
  private readonly serializer = new SerializeAddon();
  private readonly tasks: Task[] = [];
  private busy = false;
  /** The end of the last write when it stopped inside a UTF-8 character: the first bytes of it. */
  private carry: Uint8Array | null = null;
  /** Output bytes skipped rather than parsed, in total. */
  skipped = 0;

  constructor(cols: number, rows: number) {
    // logLevel off: xterm would print what it cannot parse (say, `cat /dev/urandom`) on the owner's screen.
    this.term = new xtermHeadless.Terminal({
      cols,
      rows,
      scrollback: 0,
      allowProposedApi: true,
      logLevel: 'off',
    });
    this.term.loadAddon(this.serializer);
  }

  /** Parses `bytes` after everything asked before; `done` once parsed. */
  write(bytes: Uint8Array, done?: () => void): void {
    this.run((next) =>
      this.parse(bytes, () => {
        done?.();
        next();
      }),
    );
  }

  resize(cols: number, rows: number): void {
    this.run((next) => {
      this.term.resize(cols, rows);
      next();
    });
  }

  /** The screen after everything written before this call. */
  snapshot(reply: (snapshot: Snapshot) => void): void {
    this.run((next) => {
      reply({
        data: this.serializer.serialize({ scrollback: 0 }),
        text: this.visibleText(),
        cols: this.term.cols,
        rows: this.term.rows,
      });
      next();
    });
  }

  private run(task: Task): void {
    this.tasks.push(task);
    if (!this.busy) this.next();
  }

  private readonly next = (): void => {
    const task = this.tasks.shift();
    this.busy = task !== undefined;
    task?.(this.next);
  };

  /**
   * Writes `bytes` piece by piece around the skippable ranges, each piece from the previous one's
   * callback: the check of the terminal's state at a skip sees exactly the bytes before it parsed.
   */
  private parse(bytes: Uint8Array, done: () => void): void {
    const skips = findSkips(bytes, this.term.cols, this.term.rows);
    const step = (index: number, from: number): void => {
      const skip = skips[index];
      if (!skip) {
        this.term.write(this.decode(bytes.subarray(from)), done);
        return;
      }
      this.term.write(this.decode(bytes.subarray(from, skip.from)), () => {
        const skipping = this.maySkip();
        if (skipping) this.skipped += skip.to - skip.from;
        step(index + 1, skipping ? skip.to : skip.from);
      });
    };
    step(0, 0);
  }

  /** The conditions under which findSkips' ranges leave the screen unchanged; false if unknown. */
  private maySkip(): boolean {
    const core = (this.term as unknown as XtermInternals)._core;
    const buffer = core?.buffer;
    const handler = core?._inputHandler;
    const { y, scrollTop, scrollBottom } = buffer ?? {};
    return (
      handler?._parser?.currentState === 0 &&
      typeof handler._getCurrentLinkId === 'function' &&
      !handler._getCurrentLinkId() &&
      typeof y === 'number' &&
      typeof scrollTop === 'number' &&
      typeof scrollBottom === 'number' &&
      y >= scrollTop &&
      y <= scrollBottom &&
      this.term.modes.wraparoundMode &&
      !this.term.modes.insertMode
    );
  }

  /**
   * UTF-8 to a string (xterm parses strings faster than bytes), keeping a character split across
   * writes whole. Buffer's decoder is several times faster than a streaming TextDecoder; only the
   * few bytes of a split character are carried over to the next write.
   */
  private decode(bytes: Uint8Array): string {
    let data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.carry) {
      data = Buffer.concat([this.carry, data]);
      this.carry = null;
    }
    const end = completeLength(data);
    if (end < data.length) this.carry = Uint8Array.from(data.subarray(end));
    return data.toString('utf8', 0, end);
  }

  /** The screen as plain text, one line per row: the fallback when the serialized form is too large. */
  private visibleText(): string {
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.term.rows; y++)
      lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    return lines.join('\r\n');
  }
}

/** Length of `data` without a trailing, incomplete UTF-8 sequence (invalid bytes count as complete). */
function completeLength(data: Uint8Array): number {
  const length = data.length;
  for (let back = 1; back <= Math.min(3, length); back++) {
    const byte = data[length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead
    if (byte < 0xc0) return length; // ASCII (or a stray continuation run): complete
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return needed > back ? length - back : length;
  }
  return length;
}
