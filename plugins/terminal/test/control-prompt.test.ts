import { describe, expect, it } from 'vitest';
import { ControlPrompt } from '../src/control-prompt.js';

describe('ControlPrompt', () => {
  it('keeps the request on screen until it is settled: a later request waits its turn', () => {
    const prompt = new ControlPrompt();
    expect(prompt.asked('alice')).toBe(true);
    // Mallory asks just before the owner presses Ctrl-] y: the key still answers alice.
    expect(prompt.asked('mallory')).toBe(false);
    expect(prompt.current).toBe('alice');
    expect(prompt.settled('alice')).toBe('mallory');
    expect(prompt.current).toBe('mallory');
  });

  it('drops a request whose viewer left; only the one on screen moves the prompt on', () => {
    const prompt = new ControlPrompt();
    prompt.asked('alice');
    prompt.asked('bob');
    prompt.asked('carol');
    expect(prompt.settled('bob')).toBeUndefined();
    expect(prompt.settled('alice')).toBe('carol');
    expect(prompt.settled('carol')).toBeUndefined();
    expect(prompt.current).toBeUndefined();
    expect(prompt.asked('alice')).toBe(true);
  });
});
