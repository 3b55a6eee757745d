import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const fixture = new URL('./fixtures/worker.mjs', import.meta.url);

describe.skipIf(process.platform !== 'linux')('in a worker thread', () => {
  it('batches, and the thread can be terminated while it receives', async () => {
    expect(existsSync(new URL('../dist/index.js', import.meta.url)), 'run the build first').toBe(true);
    const worker = new Worker(fixture);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(result).toEqual({ tx: 'gso', rx: null, gro: true, sizes: [...Array(49).fill(1000), 1] });
    await worker.terminate();
    expect(await exited).toBe(1);
  });
});
