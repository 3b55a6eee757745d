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
const port = parentPort!;
/** The end of the last write when it stopped inside a UTF-8 character: the first bytes of it. */
let carry: Uint8Array | null = null;
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
      // Strings parse faster than bytes in xterm.
      term.write(decodeUtf8(message.data), () => {
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

/**
 * UTF-8 to a string, keeping a character split across writes whole. Buffer's decoder is several
 * times faster than a streaming TextDecoder (which was a quarter of this thread's time in a
 * flood); only the few bytes of a split character are carried over to the next write.
 */
function decodeUtf8(bytes: Uint8Array): string {
  let data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (carry) {
    data = Buffer.concat([carry, data]);
    carry = null;
  }
  const end = completeLength(data);
  if (end < data.length) carry = Uint8Array.from(data.subarray(end));
  return data.toString('utf8', 0, end);
}

/** Length of `data` without a trailing, incomplete UTF-8 sequence (invalid bytes count as complete). */
function completeLength(data: Uint8Array): number {
  const length = data.length;
  for (let back = 1; back <= Math.min(3, length); back++) {
    const byte = data[length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead
    if (byte < 0xc0) return length; // ASCII (or a stray continuation run): complete
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return needed > back ? length - back : length;
  }
  return length;
}

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
