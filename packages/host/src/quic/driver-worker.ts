import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '../util/thread-priority.js';
import { QuicDriver } from './driver.js';
import type { DriverCommand, DriverStartOptions } from './protocol.js';

/**
 * How much nicer than the process the driver thread runs. During a transfer it is busy all the
 * time, while the agent's main thread (terminal, control plane) only needs short slices: a lower
 * priority lets the main thread preempt it instead of waiting for its turn. Measured on 2 cores
 * (load 3–4) at 1350-byte datagrams: the receiver's worst main-loop lag went from a median of 29
 * to 18 ms; the 32-byte round trip on a loaded machine rose by about 50 µs (the thread now also
 * yields to other programs), throughput did not move beyond the noise.
 */
const DRIVER_THREAD_NICENESS = 5;

// Worker-thread entry: the driver owns the UDP socket here, so packet work never blocks the main loop.
const port = parentPort;
if (!port) throw new Error('driver-worker must run as a worker thread');
lowerThreadPriority(DRIVER_THREAD_NICENESS);
const driver = new QuicDriver((events, transfer) => port.postMessage(events, transfer));
port.on('message', (commands: DriverCommand[]) => driver.handle(commands));
void driver.start(workerData as DriverStartOptions);
