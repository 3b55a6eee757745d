import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { QuicDriver } from './driver.js';
import type { DriverCommand, DriverStartOptions } from './protocol.js';

/** Nice value of the driver thread: when the cores are busy, the agent's main loop runs first. */
const DRIVER_THREAD_NICE = 0;

/**
 * Lowers this thread's scheduling priority (Linux: setpriority on a thread id affects only that
 * thread). Bulk packet work then yields the CPU to the main event loop instead of delaying it.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, DRIVER_THREAD_NICE);
  } catch {
    // Not Linux, or not permitted: run at normal priority.
  }
}

// Worker-thread entry: the driver owns the UDP socket here, so packet work never blocks the main loop.
const port = parentPort;
if (!port) throw new Error('driver-worker must run as a worker thread');
lowerThreadPriority();
const driver = new QuicDriver((events, transfer) => port.postMessage(events, transfer));
port.on('message', (commands: DriverCommand[]) => driver.handle(commands));
void driver.start(workerData as DriverStartOptions);
