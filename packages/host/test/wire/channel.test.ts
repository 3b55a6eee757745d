import { once } from 'node:events';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameChannel } from '../../src/wire/channel.js';
import { encodeFrame, type Frame } from '../../src/wire/codec.js';
import { WireError } from '../../src/wire/errors.js';
import { MessageRegistry } from '../../src/wire/registry.js';
import { rawFrame, socketPair } from './helpers.js';

function protocol(): MessageRegistry {
  const registry = new MessageRegistry();
  registry.register('HELLO', {
    type: 'object',
    properties: { name: { type: 'string' } },
    required: ['name'],
    additionalProperties: false,
  });
  registry.register(
    'CHUNK',
    { type: 'object', properties: { offset: { type: 'integer' } }, required: ['offset'] },
    { body: 'required' },
  );
  registry.register('END', { type: 'object' });
  return registry;
}

const sockets: net.Socket[] = [];
async function connected(): Promise<[net.Socket, net.Socket]> {
  const pair = await socketPair();
  sockets.push(...pair);
  return pair;
}

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

async function collect(channel: FrameChannel): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of channel) frames.push(frame);
  return frames;
}

async function rejection(promise: Promise<unknown>): Promise<WireError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WireError) return error;
    throw error;
  }
  throw new Error('expected a WireError rejection');
}

describe('FrameChannel over TCP loopback', () => {
  it('carries frames with headers and raw bodies in order, then ends', async () => {
    const [a, b] = await connected();
    const sender = new FrameChannel(a, { registry: protocol() });
    const receiver = new FrameChannel(b, { registry: protocol() });
    const bodies = [Buffer.from('first'), Buffer.alloc(300_000, 1), Buffer.from([0, 255])];
    const received = collect(receiver);
    await sender.send({ type: 'HELLO', name: 'alice' });
    for (const [offset, body] of bodies.entries()) await sender.send({ type: 'CHUNK', offset }, body);
    await sender.send({ type: 'END' });
    await sender.end();
    const frames = await received;
    expect(frames.map((frame) => frame.header.type)).toEqual(['HELLO', 'CHUNK', 'CHUNK', 'CHUNK', 'END']);
    expect(frames[0]!.header).toEqual({ type: 'HELLO', name: 'alice' });
    expect(frames.slice(1, 4).map((frame, i) => frame.body.equals(bodies[i]!))).toEqual([true, true, true]);
    expect(frames[4]!.body.length).toBe(0);
  });

  it('next() returns expected types and fails clearly on others and at the end', async () => {
    const [a, b] = await connected();
    const sender = new FrameChannel(a, { registry: protocol() });
    const receiver = new FrameChannel(b, { registry: protocol() });
    await sender.send({ type: 'HELLO', name: 'bob' });
    await sender.end();
    const hello = await receiver.next(['HELLO']);
    expect(hello.header.name).toBe('bob');
    const ended = await rejection(receiver.next(['CHUNK', 'END']));
    expect(ended.code).toBe('STREAM_ENDED');
    expect(ended.message).toBe('stream ended while waiting for CHUNK or END');

    const [c, d] = await connected();
    const other = new FrameChannel(c, { registry: protocol() });
    const strict = new FrameChannel(d, { registry: protocol() });
    await other.send({ type: 'END' });
    const unexpected = await rejection(strict.next(['HELLO']));
    expect(unexpected.code).toBe('UNEXPECTED_TYPE');
    expect(unexpected.message).toBe('expected HELLO, got END');
    await once(c, 'close'); // the protocol violation dropped the connection
  });

  it('rejects invalid outgoing frames locally and stays usable', async () => {
    const [a, b] = await connected();
    const sender = new FrameChannel(a, { registry: protocol() });
    const receiver = new FrameChannel(b, { registry: protocol() });
    expect((await rejection(sender.send({ type: 'HELLO', name: 7 }))).message).toBe(
      'HELLO: /name must be string',
    );
    expect((await rejection(sender.send({ type: 'NOPE' }))).code).toBe('UNKNOWN_TYPE');
    expect((await rejection(sender.send({ type: 'CHUNK', offset: 0 }))).message).toBe(
      'CHUNK: a body is required',
    );
    await sender.send({ type: 'HELLO', name: 'ok' });
    expect((await receiver.next(['HELLO'])).header.name).toBe('ok');
    await sender.end();
    expect((await rejection(sender.send({ type: 'END' }))).code).toBe('CHANNEL_CLOSED');
  });

  it.each([
    ['an oversized frame', Buffer.from([0xff, 0xff, 0xff, 0xff]), 'FRAME_TOO_LARGE'],
    ['a malformed header', rawFrame('{not json'), 'BAD_HEADER'],
    ['an unknown type', rawFrame('{"type":"SURPRISE"}'), 'UNKNOWN_TYPE'],
    ['a schema violation', rawFrame('{"type":"HELLO","name":1}'), 'INVALID_MESSAGE'],
    ['a body where none is allowed', rawFrame('{"type":"END"}', Buffer.from('x')), 'INVALID_MESSAGE'],
  ])('fails the reader and drops the connection on %s', async (_name, bytes, code) => {
    const [peer, local] = await connected();
    const channel = new FrameChannel(local, { registry: protocol() });
    const peerClosed = once(peer, 'close');
    peer.on('error', () => {}); // the reset is expected
    peer.write(bytes);
    const error = await rejection(collect(channel));
    expect(error.code).toBe(code);
    await peerClosed;
    expect(local.destroyed).toBe(true);
    // The failure is sticky for readers and senders alike.
    expect((await rejection(channel.next())).code).toBe(code);
    expect((await rejection(channel.send({ type: 'END' }))).code).toBe(code);
  });

  it('delivers the frames before a peer closes mid-frame, then a FRAME_TRUNCATED error', async () => {
    const [peer, local] = await connected();
    const channel = new FrameChannel(local, { registry: protocol() });
    const complete = encodeFrame({ type: 'HELLO', name: 'x' });
    const partial = encodeFrame({ type: 'CHUNK', offset: 0 }, Buffer.alloc(1000));
    peer.end(Buffer.concat([complete, partial.subarray(0, 500)]));
    expect((await channel.next(['HELLO'])).header.name).toBe('x');
    const error = await rejection(channel.next());
    expect(error.code).toBe('FRAME_TRUNCATED');
    expect(error.message).toBe(
      `stream ended in the middle of a frame: 496 of ${partial.length - 4} bytes received`,
    );
  });

  it('reports CONNECTION_LOST when the peer resets the connection', async () => {
    const [peer, local] = await connected();
    const channel = new FrameChannel(local, { registry: protocol() });
    const pending = channel.next();
    peer.write(encodeFrame({ type: 'CHUNK', offset: 0 }, Buffer.alloc(1000)).subarray(0, 100));
    await sleep(20);
    peer.resetAndDestroy();
    const error = await rejection(pending);
    expect(error.code).toBe('CONNECTION_LOST');
  });

  it('destroy() fails pending reads and later sends with CHANNEL_CLOSED', async () => {
    const [, local] = await connected();
    const channel = new FrameChannel(local, { registry: protocol() });
    const pending = channel.next();
    channel.destroy();
    expect((await rejection(pending)).code).toBe('CHANNEL_CLOSED');
    expect((await rejection(channel.send({ type: 'END' }))).code).toBe('CHANNEL_CLOSED');
  });

  it('works over a stream.Duplex pair of PassThroughs too', async () => {
    const { Duplex, PassThrough } = await import('node:stream');
    const aToB = new PassThrough();
    const bToA = new PassThrough();
    const a = Duplex.from({ readable: bToA, writable: aToB });
    const b = Duplex.from({ readable: aToB, writable: bToA });
    const left = new FrameChannel(a, { registry: protocol() });
    const right = new FrameChannel(b, { registry: protocol() });
    await left.send({ type: 'HELLO', name: 'pipe' });
    expect((await right.next(['HELLO'])).header.name).toBe('pipe');
    await right.send({ type: 'CHUNK', offset: 9 }, Buffer.from('back'));
    expect((await left.next(['CHUNK'])).body.toString()).toBe('back');
    left.destroy();
    right.destroy();
  });
});

describe('FrameChannel backpressure', () => {
  it('a slow consumer holds the sender back: bounded write buffer, no read-ahead', async () => {
    const [a, b] = await connected();
    const sender = new FrameChannel(a, { registry: protocol() });
    const receiver = new FrameChannel(b, { registry: protocol() });
    const frameCount = 160; // 40 MiB
    const body = Buffer.alloc(256 * 1024, 0x5a);
    let sent = 0;
    let maxWriteBuffer = 0;
    let maxReadBuffer = 0;
    const sampler = setInterval(() => {
      maxWriteBuffer = Math.max(maxWriteBuffer, a.writableLength);
    }, 1);
    const writing = (async () => {
      for (let offset = 0; offset < frameCount; offset++) {
        await sender.send({ type: 'CHUNK', offset }, body);
        sent++;
        maxWriteBuffer = Math.max(maxWriteBuffer, a.writableLength);
      }
      await sender.end();
    })();

    let received = 0;
    let sentWhenStalled = 0;
    for await (const frame of receiver) {
      expect(frame.header.offset).toBe(received);
      received++;
      maxReadBuffer = Math.max(maxReadBuffer, b.readableLength);
      if (received <= 4) {
        await sleep(100); // a consumer slower than the network
        sentWhenStalled = sent;
      }
    }
    await writing;
    clearInterval(sampler);
    expect(received).toBe(frameCount);
    // send() waited for 'drain': at most one frame above the socket's high-water mark is pending.
    expect(maxWriteBuffer).toBeLessThanOrEqual(a.writableHighWaterMark + body.length + 64);
    // While the consumer stalled, only the kernel's socket buffers filled up: the receiver did
    // not read the rest of the stream into memory, so the sender could not run ahead.
    expect(sentWhenStalled).toBeLessThan(frameCount / 2);
    expect(maxReadBuffer).toBeLessThanOrEqual(b.readableHighWaterMark + body.length);
  });
});
