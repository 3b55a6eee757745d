/** A byte range of output whose parsing can be skipped without changing the final screen. */
export interface Skip {
  from: number;
  to: number;
}

const CR = 0x0d;
const LF = 0x0a;
/** Bytes of a run always parsed before a skip: an escape sequence that began before the run ends in them. */
const LEAD = 64;
/** Shorter skips are not worth splitting the write for. */
const MIN_SKIP = 4096;

/** Byte classes: printable ASCII, CR or LF (plain text floods: `cat`, `yes`, `seq`, `tr`), or other. */
const PRINTABLE = 1;
const NEWLINE = 2;
const CLASS = new Uint8Array(256);
CLASS.fill(PRINTABLE, 0x20, 0x7f);
CLASS[CR] = NEWLINE;
CLASS[LF] = NEWLINE;

/**
 * Ranges of `data` that a terminal of `rows` rows and `cols` columns, with no scrollback, may skip:
 * inside a long run of plain text, bytes whose every trace scrolls off the screen before the run
 * ends. Skipping one is exact on the condition, checked by the caller on the terminal as it stands
 * at `from`, that the parser is in its ground state, the cursor inside the scroll region,
 * autowrap on, insert mode off and no hyperlink open.
 *
 * Why it is exact: both ways (parsed or skipped) reach the end of the skipped range with the same
 * cursor column (a skip starts and ends right after a CR, or spans whole lines of a CR/LF-free
 * stretch), and from there the same bytes follow. The cursor rows may differ, but every line
 * advance moves both cursors down or scrolls the region; after `2 * rows + 2` advances both sit at
 * the region's bottom and every row of the region is a line scrolled in blank since then and written
 * by the same bytes. Rows outside the region are never touched. Attributes, charsets and modes do
 * not change in plain text.
 */
export function findSkips(data: Uint8Array, cols: number, rows: number): Skip[] {
  const advances = 2 * rows + 2;
  const skips: Skip[] = [];
  const length = data.length;
  let i = 0;
  while (i < length) {
    while (i < length && CLASS[data[i]!] === 0) i++;
    const start = i;
    // The longest stretch without CR or LF: a long unbroken line (rule A below).
    let stretchStart = i;
    let longestStart = i;
    let longest = 0;
    for (; i < length; i++) {
      const kind = CLASS[data[i]!];
      if (kind === PRINTABLE) continue;
      if (kind === 0) break;
      if (i - stretchStart > longest) {
        longestStart = stretchStart;
        longest = i - stretchStart;
      }
      stretchStart = i + 1;
    }
    if (i - stretchStart > longest) {
      longestStart = stretchStart;
      longest = i - stretchStart;
    }
    if (i - start < MIN_SKIP) continue;
    const skip = longer(
      skipLines(data, start, i, advances),
      skipWrappedLines(longestStart, longestStart + longest, cols, advances),
    );
    if (skip && skip.to - skip.from >= MIN_SKIP) skips.push(skip);
  }
  return skips;
}

/** Rule B: from right after a CR to right after a later CR followed by enough line feeds and a printable. */
function skipLines(data: Uint8Array, start: number, end: number, advances: number): Skip | undefined {
  const firstCr = data.indexOf(CR, start + LEAD);
  if (firstCr < 0 || firstCr >= end) return undefined;
  let feed = end;
  for (let n = 0; n < advances; n++) {
    feed = data.lastIndexOf(LF, feed - 1);
    if (feed <= firstCr) return undefined;
  }
  const lastCr = data.lastIndexOf(CR, feed);
  if (lastCr <= firstCr) return undefined;
  // A printable after the skip: the last printed character (which CSI b repeats) is the same both ways.
  let printable = end - 1;
  while (printable > lastCr && (data[printable] === CR || data[printable] === LF)) printable--;
  if (printable <= lastCr) return undefined;
  return { from: firstCr + 1, to: lastCr + 1 };
}

/** Rule A: whole lines' worth of a CR/LF-free stretch, leaving enough of it to wrap `advances` times. */
function skipWrappedLines(start: number, end: number, cols: number, advances: number): Skip | undefined {
  const from = start + LEAD;
  const keep = (advances + 2) * cols;
  const lines = Math.floor((end - from - keep) / cols);
  return lines > 0 ? { from, to: from + lines * cols } : undefined;
}

function longer(a: Skip | undefined, b: Skip | undefined): Skip | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.to - a.from >= b.to - b.from ? a : b;
}
