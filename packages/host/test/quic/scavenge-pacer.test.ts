import { constants, PerformanceObserver } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { ScavengePacer } from '../../src/quic/scavenge-pacer.js';

/** Counts young-generation collections while `run` runs. */
async function scavengesDuring(run: () => void): Promise<number> {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if (
        (entry as unknown as { detail?: { kind?: number } }).detail?.kind ===
        constants.NODE_PERFORMANCE_GC_MINOR
      )
        minor++;
  });
  observer.observe({ entryTypes: ['gc'] });
  run();
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return minor;
}

describe('ScavengePacer', () => {
  it('runs a scavenge each time the given number of bytes has been received', async () => {
    const pacer = new ScavengePacer(1024);
    const count = await scavengesDuring(() => {
      for (let i = 0; i < 20; i++) pacer.received(512);
    });
    expect(count).toBeGreaterThanOrEqual(10);
  });

  it('runs none below the threshold', async () => {
    const pacer = new ScavengePacer(1024 * 1024 * 1024);
    const count = await scavengesDuring(() => {
      for (let i = 0; i < 20; i++) pacer.received(512);
    });
    expect(count).toBeLessThan(10);
  });
});
