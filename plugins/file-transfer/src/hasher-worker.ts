/** Worker side of hasher.ts: one BLAKE3 state, fed in order through the port. */
import { parentPort } from 'node:worker_threads';
import { createBLAKE3 } from 'hash-wasm';

export type HasherRequest =
  | { op: 'update'; data: Uint8Array }
  | { op: 'peek'; id: number }
  | { op: 'digest'; id: number };
export type HasherReply = { op: 'ack'; bytes: number } | { op: 'hex'; id: number; hex: string };

const port = parentPort;
if (!port) throw new Error('hasher-worker must run as a worker thread');
const hasher = await createBLAKE3();
hasher.init();
port.on('message', (message: HasherRequest) => {
  if (message.op === 'update') {
    hasher.update(message.data);
    port.postMessage({ op: 'ack', bytes: message.data.byteLength } satisfies HasherReply);
  } else if (message.op === 'peek') {
    const state = hasher.save();
    const hex = hasher.digest('hex');
    hasher.load(state);
    port.postMessage({ op: 'hex', id: message.id, hex } satisfies HasherReply);
  } else {
    port.postMessage({ op: 'hex', id: message.id, hex: hasher.digest('hex') } satisfies HasherReply);
  }
});
