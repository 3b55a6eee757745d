import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ScreenReply, ScreenRequest, ScreenWorkerData } from './screen.js';
import { ScreenParser } from './screen-parser.js';

// The headless terminal runs in its own thread: parsing output may cost as much as the PTY
// produces, and the owner's shell and viewers must not wait for it.
const { cols, rows } = workerData as ScreenWorkerData;
lowerPriority();
const parser = new ScreenParser(cols, rows);
const port = parentPort!;

function reply(message: ScreenReply): void {
  port.postMessage(message);
}

port.on('message', (message: ScreenRequest) => {
  switch (message.t) {
    case 'write': {
      const bytes = message.data.byteLength;
      parser.write(message.data, () => reply({ t: 'parsed', bytes }));
      break;
    }
    case 'resize':
      parser.resize(message.cols, message.rows);
      break;
    case 'snapshot':
      parser.snapshot((snapshot) => reply({ t: 'snapshot', id: message.id, ...snapshot }));
      break;
  }
});

/**
 * Parsing can wait; the shell, the viewers and the data plane cannot: on Linux this thread gets a
 * higher nice value (setpriority on a thread id affects that thread only) and catches up when the
 * cores are free. The owner slows PTY reading only when the backlog grows large.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // Not Linux, or not permitted.
  }
}
