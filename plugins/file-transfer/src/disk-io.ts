import type { FileHandle } from 'node:fs/promises';

/** Writes all of `data` at `position` (short writes are continued, never silently dropped). */
export async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/**
 * At most `limit` tasks at once; the first failure is thrown by the next `run` or by `drain`, never
 * as an unhandled rejection. With a limit of 1 it keeps one disk write in flight while the next
 * chunk arrives, so the disk and the network overlap.
 */
export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(private readonly limit: number) {}

  /** Starts `task` once a slot is free. */
  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.failure) throw this.failure;
    const promise: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure;
  }

  /** Waits for running tasks without throwing (before cleaning up after a failure). */
  async settled(): Promise<void> {
    await Promise.all(this.running);
  }
}
