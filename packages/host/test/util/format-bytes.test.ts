import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/util/format-bytes.js';

describe('formatBytes', () => {
  it('prints bytes below 1 KiB whole, larger sizes in binary units with one decimal', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1_234_567)).toBe('1.2 MiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
    expect(formatBytes(3 * 1024 ** 5)).toBe('3072.0 TiB');
  });
});
