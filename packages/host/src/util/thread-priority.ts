import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

const MAX_NICE = 19;

/**
 * Makes the calling thread `by` nice levels nicer than it is, for background work that must not
 * hold up the process's other threads. Linux: setpriority on a thread id affects that thread only,
 * and the id comes from /proc/thread-self. Elsewhere, or when not allowed, nothing changes.
 */
export function lowerThreadPriority(by: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(MAX_NICE, getPriority(tid) + by));
  } catch {
    // Not Linux, or not allowed: the thread keeps the process's priority.
  }
}
