import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../src/template.js';

describe('renderTemplate', () => {
  it('fills fields and nested paths', () => {
    expect(
      renderTemplate('{{name}} ({{size}} bytes) from {{peer.id}}', {
        name: 'a.txt',
        size: 42,
        peer: { id: 'bob' },
      }),
    ).toBe('a.txt (42 bytes) from bob');
  });

  it('accepts spaces inside the braces and repeats', () => {
    expect(renderTemplate('{{ x }}-{{x}}', { x: 'y' })).toBe('y-y');
  });

  it('turns missing fields, null and paths through non-objects into the empty string', () => {
    expect(
      renderTemplate('[{{missing}}][{{n}}][{{s.length}}][{{a.b.c}}]', { n: null, s: 'abc', a: { b: 1 } }),
    ).toBe('[][][][]');
  });

  it('never reads inherited properties', () => {
    expect(renderTemplate('{{constructor}}{{toString}}{{__proto__}}', {})).toBe('');
  });

  it('renders booleans, objects and arrays', () => {
    expect(renderTemplate('{{ok}} {{o}} {{l}}', { ok: false, o: { a: 1 }, l: [1, 2] })).toBe(
      'false {"a":1} [1,2]',
    );
  });

  it('leaves text that is not a placeholder alone', () => {
    expect(renderTemplate('{single} {{ bad name }} {{}} {{a..b}}', { single: 1 })).toBe(
      '{single} {{ bad name }} {{}} {{a..b}}',
    );
  });

  it('survives a cyclic payload', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(renderTemplate('<{{self}}>', { self: cyclic })).toBe('<>');
  });

  it('prints a byte count in human units with the bytes filter, anything else as it is', () => {
    expect(
      renderTemplate('{{size | bytes}} {{small|bytes}} {{name | bytes}}', {
        size: 1_234_567,
        small: 12,
        name: 'x',
      }),
    ).toBe('1.2 MiB 12 B x');
  });

  it('puts a failure code in plain words with the reason filter, naming a code it does not know', () => {
    expect(renderTemplate('{{code | reason}}', { code: 'NO_SPACE' })).toBe(
      'there is not enough free disk space',
    );
    expect(renderTemplate('{{code | reason}}', { code: 'CONNECTION_LOST' })).toMatch(
      /^the connection to the sender dropped/,
    );
    expect(renderTemplate('{{code | reason}}', { code: 'NEW_CODE' })).toBe('it failed (NEW_CODE)');
    expect(renderTemplate('[{{missing | reason}}]', {})).toBe('[]');
  });

  it('leaves a placeholder with an unknown filter as written, so the mistake shows', () => {
    expect(renderTemplate('{{size | megabytes}}', { size: 1 })).toBe('{{size | megabytes}}');
  });
});
