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
});
