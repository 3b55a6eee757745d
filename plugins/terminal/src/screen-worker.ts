import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { SerializeAddon } from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import type { ScreenReply, ScreenRequest, ScreenWorkerData } from './screen.js';

// The headless terminal runs in its own thread: parsing output costs about as much as the PTY
// produces, and the owner's shell and viewers must not wait for it.
const { cols, rows } = workerData as ScreenWorkerData;
lowerPriority();
const term = new xtermHeadless.Terminal({ cols, rows, scrollback: 0, allowProposedApi: true });
const serializer = new SerializeAddon();
term.loadAddon(serializer);
const decoder = new TextDecoder('utf-8');
const port = parentPort!;
/** Bytes parsed since the last acknowledgement; the owner pauses the PTY while too many are pending. */
let parsed = 0;
let pending = 0;

function reply(message: ScreenReply): void {
  port.postMessage(message);
}

port.on('message', (message: ScreenRequest) => {
  switch (message.t) {
    case 'write': {
      const size = message.data.byteLength;
      pending++;
      // Strings parse faster than bytes in xterm; the streaming decoder keeps split UTF-8 intact.
      term.write(decoder.decode(message.data, { stream: true }), () => {
        parsed += size;
        pending--;
        if (pending === 0 || parsed >= 256 * 1024) {
          reply({ t: 'parsed', bytes: parsed });
          parsed = 0;
        }
      });
      break;
    }
    case 'resize':
      term.resize(message.cols, message.rows);
      break;
    case 'snapshot':
      // An empty write completes once everything written before it is parsed: the snapshot
      // is exactly the screen after the output posted before this request.
      term.write('', () =>
        reply({
          t: 'snapshot',
          id: message.id,
          data: serializer.serialize({ scrollback: 0 }),
          text: visibleText(),
          cols: term.cols,
          rows: term.rows,
        }),
      );
      break;
  }
});

/** The screen as plain text, one line per row: the fallback when the serialized form is too large. */
function visibleText(): string {
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < term.rows; y++)
    lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
  return lines.join('\r\n');
}

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
