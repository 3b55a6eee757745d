import { describe, expect, it } from 'vitest';
import { unlessCancelled } from '../src/cancel.js';
import { TransferError } from '../src/outcome.js';

describe('unlessCancelled', () => {
  const cancelled = new TransferError('CANCELLED', 'cancelled by SIGINT');

  it('passes the work through while the signal stays quiet (or there is none)', async () => {
    await expect(unlessCancelled(Promise.resolve(1), new AbortController().signal)).resolves.toBe(1);
    await expect(unlessCancelled(Promise.reject(new Error('disk')), undefined)).rejects.toThrow('disk');
  });

  it('throws the reason as soon as the signal aborts, without waiting for the work', async () => {
    const controller = new AbortController();
    const never = new Promise<number>(() => {});
    const waiting = unlessCancelled(never, controller.signal);
    controller.abort(cancelled);
    await expect(waiting).rejects.toBe(cancelled);
    await expect(unlessCancelled(Promise.resolve(1), controller.signal)).rejects.toBe(cancelled);
  });
});
