import type { Duplex } from 'node:stream';

/** Size of one ping: a keystroke-sized message. */
export const PING_BYTES = 32;
/** Round trips before measuring: connection warm-up, JIT, congestion window. */
export const WARMUP_ROUNDS = 200;

/** Echoes every byte back on the same stream (the responder of a latency run). */
export function echo(stream: Duplex): void {
  stream.on('data', (chunk: Buffer) => stream.write(chunk));
  stream.on('end', () => stream.end());
  stream.on('error', () => {});
}

/**
 * Sends `rounds` pings of PING_BYTES, one at a time, each after the previous one's echo arrived
 * in full; returns the round trips in microseconds (warm-up excluded), sorted.
 */
export async function ping(stream: Duplex, rounds: number, gapMs = 0): Promise<number[]> {
  const message = Buffer.alloc(PING_BYTES, 0x61);
  const times: number[] = [];
  let received = 0;
  let arrived: (() => void) | null = null;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received >= PING_BYTES) {
      received -= PING_BYTES;
      arrived?.();
    }
  });
  for (let i = 0; i < WARMUP_ROUNDS + rounds; i++) {
    const echoed = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const start = process.hrtime.bigint();
    stream.write(message);
    await echoed;
    const us = Number(process.hrtime.bigint() - start) / 1000;
    if (i >= WARMUP_ROUNDS) times.push(us);
    // Keystrokes come with pauses: an idle gap lets timers and batching show their cost.
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  stream.end();
  return times.sort((a, b) => a - b);
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}
