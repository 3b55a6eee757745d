import { SerializeAddon } from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import { describe, expect, it } from 'vitest';
import { ScreenParser, type Snapshot } from '../src/screen-parser.js';
import { findSkips } from '../src/skippable-output.js';

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed by its seed. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Output mixing long plain-text floods with what could make skipping them wrong. */
function output(seed: number): Buffer {
  const rand = random(seed);
  const letters = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(0x21 + rand(94))).join('');
  const parts: string[] = [];
  const pieces: Array<() => string> = [
    () => letters(rand(30_000)), // one very long line: wraps
    () => Array.from({ length: rand(400) }, () => `${letters(rand(120))}\r\n`).join(''), // cat
    () => Array.from({ length: rand(400) }, () => `${letters(rand(60))}\n`).join(''), // LF only
    () => Array.from({ length: rand(200) }, (_, i) => `\rprogress ${i}%`).join(''),
    () => `\x1b[${rand(108)}m`,
    () => `\x1b[38;5;${rand(256)}m`,
    () => `\x1b[${rand(40)};${rand(120)}H`,
    () => `\x1b[${rand(30)};${rand(30)}r`,
    () => '\x1b[r',
    () => (rand(2) ? '\x1b[4h' : '\x1b[4l'),
    () => (rand(2) ? '\x1b[?7h' : '\x1b[?7l'),
    () => (rand(2) ? '\x1b[?1049h' : '\x1b[?1049l'),
    () => (rand(2) ? '\x1b[20h' : '\x1b[20l'),
    () => `\x1b]0;${letters(rand(9000))}`, // an unterminated title: the next text is inside it
    () => '\x07',
    () => `\x1b[${'0'.repeat(rand(9000))}`, // a CSI whose parameters run on into the next text
    () => `\x1b]8;;https://example.org/${letters(5)}\x07`,
    () => '\x1b]8;;\x07',
    () => '日本語の文字',
    () => 'e\u0301\u{1f600}',
    () => '\t\b\b',
    () => `\x1b[${rand(9)}b`,
    () => '\x1bc',
    () => '\x1b(0lqk\x1b(B',
  ];
  for (let i = 0; i < 60; i++) parts.push(pieces[rand(pieces.length)]!());
  return Buffer.from(parts.join(''), 'utf8');
}

function reference(cols: number, rows: number, bytes: Buffer): Promise<Snapshot> {
  const term = new xtermHeadless.Terminal({
    cols,
    rows,
    scrollback: 0,
    allowProposedApi: true,
    logLevel: 'off',
  });
  const serializer = new SerializeAddon();
  term.loadAddon(serializer);
  return new Promise((resolve) =>
    term.write(bytes, () => {
      const buffer = term.buffer.active;
      const text = Array.from({ length: rows }, (_, y) => buffer.getLine(y)?.translateToString(true) ?? '');
      resolve({ data: serializer.serialize({ scrollback: 0 }), text: text.join('\r\n'), cols, rows });
    }),
  );
}

/** Feeds `bytes` in random pieces, as the PTY delivers them (UTF-8 characters split at times). */
function parsed(parser: ScreenParser, bytes: Buffer, rand: (n: number) => number): Promise<Snapshot> {
  for (let offset = 0; offset < bytes.length; ) {
    const size = 1 + rand(rand(4) === 0 ? 100 : 200_000);
    parser.write(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return new Promise((resolve) => parser.snapshot(resolve));
}

describe('ScreenParser', () => {
  it('skipping plain text leaves exactly the screen a full parse gives', async () => {
    let skipped = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rand = random(seed * 7919);
      const cols = 10 + rand(110);
      const rows = 2 + rand(40);
      const bytes = output(seed);
      const parser = new ScreenParser(cols, rows);
      const [want, got] = await Promise.all([reference(cols, rows, bytes), parsed(parser, bytes, rand)]);
      expect({ seed, ...got }).toEqual({ seed, ...want });
      skipped += parser.skipped;
    }
    // The comparison above is only worth something if skips happened.
    expect(skipped).toBeGreaterThan(500_000);
  }, 60_000);

  it('a flood of plain text is mostly skipped, and the screen still shows its end', async () => {
    const parser = new ScreenParser(80, 24);
    const lines = Array.from({ length: 100_000 }, (_, i) => `line ${i}\r\n`).join('');
    const wrapped = 'a'.repeat(3_000_000);
    const bytes = Buffer.from(`${lines}${wrapped}\r\nend`);
    const snapshot = await parsed(parser, bytes, random(1));
    expect(parser.skipped).toBeGreaterThan(bytes.length * 0.9);
    expect(snapshot).toEqual(await reference(80, 24, bytes));
    expect(snapshot.text.split('\r\n').at(-1)).toBe('end');
  });

  it('finds no skip in short or escape-laden output', () => {
    expect(findSkips(Buffer.from('hello\r\n'.repeat(100)), 80, 24)).toEqual([]);
    expect(findSkips(Buffer.from('\x1b[1mx\x1b[0m\r\n'.repeat(5000)), 80, 24)).toEqual([]);
  });
});
