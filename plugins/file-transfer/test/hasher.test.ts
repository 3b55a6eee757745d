import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Blake3 } from '../src/hasher.js';

const require = createRequire(import.meta.url);
// blake3@2.1.7 as the reference: a second, independent BLAKE3 implementation.
const reference = require('blake3') as { hash(data: Uint8Array): Buffer };

describe('Blake3', () => {
  const data = Buffer.alloc(9 * 1024 * 1024 + 123);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 9)) & 0xff;

  it('matches blake3@2.1.7 over chunks, and a digest midway does not disturb the running hash', () => {
    const hasher = new Blake3();
    const cut = 5 * 1024 * 1024;
    for (let at = 0; at < cut; at += 256 * 1024)
      hasher.update(data.subarray(at, Math.min(at + 256 * 1024, cut)));
    expect(hasher.digest()).toBe(reference.hash(data.subarray(0, cut)).toString('hex'));
    for (let at = cut; at < data.length; at += 256 * 1024)
      hasher.update(data.subarray(at, Math.min(at + 256 * 1024, data.length)));
    expect(hasher.digest()).toBe(reference.hash(data).toString('hex'));
  });

  it('hashes nothing to the empty-input digest', () => {
    expect(new Blake3().digest()).toBe(reference.hash(Buffer.alloc(0)).toString('hex'));
  });
});
