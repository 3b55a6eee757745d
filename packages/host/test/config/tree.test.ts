import { describe, expect, it } from 'vitest';
import { getPath, setPath, unsetPath } from '../../src/config/tree.js';

describe('config trees', () => {
  it('sets, reads and removes a value; removing prunes the tables left empty', () => {
    const tree: Record<string, unknown> = { quic: { port: 1 } };
    setPath(tree, ['plugins', 'demo', 'limit'], 3);
    expect(getPath(tree, ['plugins', 'demo', 'limit'])).toBe(3);
    expect(getPath(tree, ['plugins', 'other', 'limit'])).toBeUndefined();
    expect(unsetPath(tree, ['plugins', 'demo', 'limit'])).toBe(true);
    expect(tree).toEqual({ quic: { port: 1 } });
    expect(unsetPath(tree, ['quic', 'host'])).toBe(false);
    expect(unsetPath(tree, ['quic', 'port', 'deeper'])).toBe(false);
    expect(tree).toEqual({ quic: { port: 1 } });
  });
});
