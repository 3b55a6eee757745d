import { execFileSync } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

const BLOCK = 16 * 1024 * 1024;

/**
 * Puts the machine in the same state before every timed run of a tool that writes `bytes`:
 *
 * - `sync`: the kernel writes dirty pages back 30 s after they were written, so the sources the
 *   benchmark just created would otherwise be flushed during whichever run came 30 s later.
 * - A scratch file of `bytes` written and deleted in `dir`, so the page cache the tool fills
 *   reuses pages the guest has just freed. With virtio free-page reporting (this VM has it), the
 *   guest hands pages that stay free back to the host, about 128 MB every 2 s, and the first
 *   touch of such a page costs a host fault: writing 1 GiB into the page cache took 2.9 s of
 *   system time then, 0.3 s on pages freed a moment ago (what bare metal pays). Without this, a
 *   tool that ran right after the previous case deleted its output wrote into the cheap pages.
 */
export async function beforeTimedRun(dir: string, bytes: number): Promise<void> {
  execFileSync('sync');
  const path = join(dir, 'scratch-before-run.bin');
  const block = Buffer.alloc(BLOCK, 0x5a);
  const handle = await open(path, 'w');
  try {
    for (let done = 0; done < bytes; done += BLOCK)
      await handle.write(block, 0, Math.min(BLOCK, bytes - done), done);
  } finally {
    await handle.close();
    await rm(path, { force: true });
  }
  // The scratch file's own writeback, if any started, is finished before the run.
  execFileSync('sync');
}
