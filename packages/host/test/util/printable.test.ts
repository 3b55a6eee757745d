import { describe, expect, it } from 'vitest';
import { printable } from '../../src/util/printable.js';

describe('printable', () => {
  it('keeps ordinary text, including non-ASCII letters, as it is', () => {
    expect(printable('bob’s file — résumé.pdf 日本')).toBe('bob’s file — résumé.pdf 日本');
  });

  it('escapes C0, DEL and C1 controls instead of passing them through', () => {
    expect(printable('\x1b]0;pwned\x07\x1b[2J')).toBe('\\x1b]0;pwned\\x07\\x1b[2J');
    expect(printable('a\r\nb\tc\x7f\x9b')).toBe('a\\x0d\\x0ab\\x09c\\x7f\\x9b');
  });

  it('escapes bidirectional overrides that would reorder the text on screen', () => {
    expect(printable('evil\u202egpj.exe')).toBe('evil\\u202egpj.exe');
  });
});
