import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '@mesh-agent/host/thread-priority';
import type { ScreenReply, ScreenRequest, ScreenWorkerData } from './screen.js';
import { ScreenParser } from './screen-parser.js';

/**
 * Parsing can wait; the shell, the viewers and the data plane cannot: this thread runs this much
 * nicer and catches up when the cores are free. The owner slows PTY reading only when the
 * backlog grows large.
 */
const SCREEN_THREAD_NICENESS = 10;

// The headless terminal runs in its own thread: parsing output may cost as much as the PTY
// produces, and the owner's shell and viewers must not wait for it.
const { cols, rows } = workerData as ScreenWorkerData;
lowerThreadPriority(SCREEN_THREAD_NICENESS);
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
