import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DirectLiveness } from '../../src/quic/paths/direct-liveness.js';

const TIMING = { silenceMs: 500, confirmProbes: 3, confirmIntervalMs: 400 };

function watch() {
  const events: Array<{ at: number; what: 'probe' | 'dead' }> = [];
  const start = Date.now();
  const liveness = new DirectLiveness(TIMING, {
    probe: () => events.push({ at: Date.now() - start, what: 'probe' }),
    dead: () => events.push({ at: Date.now() - start, what: 'dead' }),
  });
  return { liveness, events };
}

/** A busy connection on a working path: a send and a reply every 10 ms for `ms`. */
async function busy(liveness: DirectLiveness, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    liveness.sent();
    await vi.advanceTimersByTimeAsync(5);
    liveness.heard();
    await vi.advanceTimersByTimeAsync(5);
  }
}

describe('DirectLiveness: a direct path that goes silent', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a busy path that answers is never probed', async () => {
    const { liveness, events } = watch();
    await busy(liveness, 5_000);
    expect(events).toEqual([]);
    liveness.reset();
  });

  it('sends with no reply for the silence period: three probes 400 ms apart, then dead once', async () => {
    const { liveness, events } = watch();
    await busy(liveness, 1_000);
    // The path dies: we keep sending (QUIC's retransmissions), nothing comes back.
    liveness.sent();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(events.map((e) => e.what)).toEqual(['probe', 'probe', 'probe', 'dead']);
    const [first, , third, dead] = events.map((e) => e.at - 1_000);
    // Suspect after the silence (give or take one check), dead three probe intervals later.
    expect(first).toBeGreaterThanOrEqual(500);
    expect(first).toBeLessThanOrEqual(600);
    expect(third! - first!).toBe(800);
    expect(dead! - first!).toBe(1_200);
  });

  it('an idle connection (nothing sent) is never probed', async () => {
    const { liveness, events } = watch();
    await busy(liveness, 200);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(events).toEqual([]);
  });

  it('a quiet connection whose last packet was ours costs one answered probe, not a fallback', async () => {
    const { liveness, events } = watch();
    await busy(liveness, 200);
    liveness.sent(); // a last ACK, which nothing answers
    await vi.advanceTimersByTimeAsync(600);
    expect(events.map((e) => e.what)).toEqual(['probe']);
    liveness.answered();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(events.map((e) => e.what)).toEqual(['probe']);
  });

  it('only a signed answer ends the confirmation: QUIC from the address (spoofable) does not', async () => {
    const { liveness, events } = watch();
    liveness.sent();
    await vi.advanceTimersByTimeAsync(650);
    expect(liveness.confirming).toBe(true);
    liveness.heard();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(events.map((e) => e.what)).toEqual(['probe', 'probe', 'probe', 'dead']);
  });

  it('one lost probe answer does not make the path dead', async () => {
    const { liveness, events } = watch();
    liveness.sent();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(events.map((e) => e.what)).toEqual(['probe', 'probe']);
    liveness.answered();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(events.map((e) => e.what)).toEqual(['probe', 'probe']);
    expect(liveness.confirming).toBe(false);
  });

  it('suspect() confirms at once, without waiting for the silence', async () => {
    const { liveness, events } = watch();
    liveness.suspect();
    liveness.suspect(); // already confirming: no second round
    expect(events).toEqual([{ at: 0, what: 'probe' }]);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(events.map((e) => e.what)).toEqual(['probe', 'probe', 'probe', 'dead']);
  });

  it('reset() stops everything', async () => {
    const { liveness, events } = watch();
    liveness.sent();
    await vi.advanceTimersByTimeAsync(700);
    liveness.reset();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(events.map((e) => e.what)).toEqual(['probe']);
  });
});
