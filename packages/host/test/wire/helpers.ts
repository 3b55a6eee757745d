import { once } from 'node:events';
import net from 'node:net';
import fc from 'fast-check';
import type { FrameHeader } from '../../src/wire/codec.js';

/** Splits a buffer at the given cut points (any order, duplicates allowed, may give empty chunks). */
export function splitAt(buffer: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (buffer.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(buffer.subarray(start, point));
    start = point;
  }
  chunks.push(buffer.subarray(start));
  return chunks;
}

/** Headers as a peer could send them: a non-empty string type plus arbitrary JSON fields. */
export const headerArbitrary: fc.Arbitrary<FrameHeader> = fc
  .tuple(
    fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }),
    fc.dictionary(fc.string(), fc.jsonValue()),
  )
  .map(([type, fields]) => ({ ...fields, type }));

/** Two ends of a real TCP connection on loopback. */
export async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [serverSide] = await accepted;
  server.close();
  return [client, serverSide];
}

/** A frame written by hand, bypassing the encoder's checks. */
export function rawFrame(headerText: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(6);
  prefix.writeUInt32BE(2 + header.length + body.length, 0);
  prefix.writeUInt16BE(header.length, 4);
  return Buffer.concat([prefix, header, body]);
}
