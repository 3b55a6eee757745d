/**
 * Codec throughput for 256 KiB-body frames (a measurement, not a test).
 * Run from the repo root: npx tsx packages/host/test/wire/bench-decode.ts
 */
import { FrameChannel } from '../../src/wire/channel.js';
import { encodeFrame, encodeFrameParts } from '../../src/wire/codec.js';
import { FrameDecoder } from '../../src/wire/decoder.js';
import { MessageRegistry } from '../../src/wire/registry.js';
import { socketPair } from './helpers.js';

const BODY = 256 * 1024;
const FRAMES = 2048; // 512 MiB per pass
const body = Buffer.alloc(BODY, 0x42);
const header = { type: 'FILE_CHUNK', transfer_id: 'a1b2c3d4e5f60718', offset: 0 };

function rate(bytes: number, ms: number): string {
  return `${(((bytes / ms) * 1000) / 1e9).toFixed(2)} GB/s`;
}

function time(label: string, bytes: number, run: () => void): void {
  run(); // warm-up
  const started = performance.now();
  run();
  const ms = performance.now() - started;
  console.log(`${label.padEnd(58)} ${rate(bytes, ms).padStart(11)}  (${ms.toFixed(0)} ms)`);
}

const oneFrame = encodeFrame(header, body);
const stream = Buffer.concat(Array.from({ length: 64 }, () => oneFrame)); // 16 MiB, reused
const total = (stream.length * FRAMES) / 64;

function decodeIn(chunkSize: number): () => void {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize));
  return () => {
    const decoder = new FrameDecoder();
    let frames = 0;
    for (let pass = 0; pass < FRAMES / 64; pass++)
      for (const chunk of chunks) frames += decoder.push(chunk).length;
    decoder.end();
    if (frames !== FRAMES) throw new Error(`decoded ${frames} frames`);
  };
}

time('decode, 64 KiB chunks (socket-like, one copy per frame)', total, decodeIn(64 * 1024));
time('decode, 16 KiB chunks', total, decodeIn(16 * 1024));
time('decode, 1 MiB chunks (mostly zero-copy views)', total, decodeIn(1024 * 1024));
time('decode, 16 MiB chunks (all zero-copy views)', total, decodeIn(stream.length));
time('encodeFrame (one Buffer, body copied)', total, () => {
  for (let i = 0; i < FRAMES; i++) encodeFrame(header, body);
});
time('encodeFrameParts (prefix + body, no copy)', total, () => {
  for (let i = 0; i < FRAMES; i++) encodeFrameParts(header, body);
});

// End to end: FrameChannel over TCP loopback, both ends in this process (one core for both).
const registry = new MessageRegistry();
registry.register(
  'FILE_CHUNK',
  {
    type: 'object',
    properties: { transfer_id: { type: 'string' }, offset: { type: 'integer', minimum: 0 } },
    required: ['transfer_id', 'offset'],
  },
  { body: 'required' },
);
const [a, b] = await socketPair();
const sender = new FrameChannel(a, { registry });
const receiver = new FrameChannel(b, { registry });
const loopbackFrames = 2048;
const started = performance.now();
const sending = (async () => {
  for (let i = 0; i < loopbackFrames; i++) await sender.send({ ...header, offset: i * BODY }, body);
  await sender.end();
})();
let received = 0;
for await (const frame of receiver) received += frame.body.length;
await sending;
const ms = performance.now() - started;
console.log(
  `${'FrameChannel over TCP loopback, send + receive + validate'.padEnd(58)} ${rate(received, ms).padStart(11)}  (${ms.toFixed(0)} ms)`,
);
a.destroy();
b.destroy();
