import { parentPort, workerData } from 'node:worker_threads';
import { QuicDriver } from './driver.js';
import type { DriverCommand, DriverStartOptions } from './protocol.js';

// Worker-thread entry: the driver owns the UDP socket here, so packet work never blocks the main loop.
const port = parentPort;
if (!port) throw new Error('driver-worker must run as a worker thread');
const driver = new QuicDriver((events, transfer) => port.postMessage(events, transfer));
port.on('message', (commands: DriverCommand[]) => driver.handle(commands));
void driver.start(workerData as DriverStartOptions);
