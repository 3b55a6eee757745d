import xtermHeadless from '@xterm/headless';
import { describe, expect, it } from 'vitest';
import { TERMINAL_RESET } from '../src/tty.js';

type Terminal = InstanceType<typeof xtermHeadless.Terminal>;

function write(term: Terminal, data: string): Promise<void> {
  return new Promise((resolve) => term.write(data, resolve));
}

/** What a full-screen program may switch on and leave on when it is killed. */
const EVERYTHING_ON = [
  'shell prompt\r\nsome output\r\n',
  '\x1b[?1049h', // alternate screen
  '\x1b[?25l', // hidden cursor
  '\x1b[?1003h\x1b[?1006h\x1b[?1004h', // mouse motion, SGR encoding, focus events
  '\x1b[?2004h', // bracketed paste
  '\x1b[?1h\x1b=', // application cursor keys and keypad
  '\x1b[3;10r\x1b[?6h', // scroll region, origin mode
  '\x1b[?7l\x1b[4h', // no autowrap, insert mode
  '\x1b(0', // line-drawing characters
  '\x1b[1;31;44m', // bold red on blue
  '\x1b[5;5Hhalfway',
].join('');

// A real terminal emulator (xterm.js) shows what the reset leaves behind.
describe('TERMINAL_RESET', () => {
  it('switches off what a shared program switched on and leaves the cursor on a fresh bottom line', async () => {
    const term = new xtermHeadless.Terminal({ cols: 40, rows: 12, allowProposedApi: true });
    await write(term, EVERYTHING_ON);
    expect(term.buffer.active.type).toBe('alternate');
    expect(term.modes.mouseTrackingMode).toBe('any');

    await write(term, TERMINAL_RESET);
    const buffer = term.buffer.active;
    expect(buffer.type).toBe('normal');
    expect(term.modes).toMatchObject({
      applicationCursorKeysMode: false,
      applicationKeypadMode: false,
      bracketedPasteMode: false,
      insertMode: false,
      mouseTrackingMode: 'none',
      originMode: false,
      sendFocusMode: false,
      wraparoundMode: true,
    });
    // A fresh line at the bottom; what the screen showed is kept above it.
    expect(buffer.cursorY).toBe(term.rows - 1);
    expect(buffer.cursorX).toBe(0);
    expect(buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true)).toBe('');
    const lines = [0, 1].map((y) => buffer.getLine(y)?.translateToString(true));
    expect(lines).toEqual(['shell prompt', 'some output']);

    // Plain ASCII in default colours; a newline at the bottom scrolls the whole screen.
    const baseY = buffer.baseY;
    await write(term, 'q\r\n');
    const cell = buffer.getLine(baseY + term.rows - 1)?.getCell(0);
    expect(cell?.getChars()).toBe('q');
    expect(cell?.isFgDefault() && cell.isBgDefault() && !cell.isBold()).toBe(true);
    expect(buffer.baseY).toBe(baseY + 1);
    term.dispose();
  });
});
