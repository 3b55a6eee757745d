import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import {
  BINDING,
  BindingTransactions,
  type DecodedStunMessage,
  decodeStun,
  discoverNatKind,
  type Endpoint,
  encodeStun,
  readErrorCode,
  readSoftware,
  readXorMappedAddress,
  type StunMessage,
} from '@mesh-agent/host/nat';
import { afterEach, describe, expect, it } from 'vitest';
import { StunResponder, type StunResponderOptions } from '../src/index.js';

/** A UDP socket on loopback that records what it receives. */
class UdpClient {
  readonly received: Array<{ message: DecodedStunMessage; from: Endpoint }> = [];
  readonly transactions: BindingTransactions;

  private constructor(readonly socket: Socket) {
    this.transactions = new BindingTransactions({
      send: (packet, address, port) => socket.send(packet, port, address),
      rtoMs: 100,
      deadlineMs: 3_000,
    });
    socket.on('message', (packet, from) => {
      const decoded = decodeStun(packet);
      if (decoded.ok) this.received.push({ message: decoded.message, from });
      this.transactions.receive(packet, from);
    });
  }

  static async bound(host: string): Promise<UdpClient> {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new UdpClient(socket);
  }

  get local(): Endpoint {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  send(packet: Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(packet, port, address);
  }

  close(): void {
    this.transactions.close();
    this.socket.close();
  }
}

function bindingRequest(attributes: StunMessage['attributes'] = []): Buffer {
  return encodeStun({ method: BINDING, class: 'request', transactionId: randomBytes(12), attributes });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const started: StunResponder[] = [];
const clients: UdpClient[] = [];

async function responder(options: Partial<StunResponderOptions> = {}) {
  const server = new StunResponder({ host: '127.0.0.1', ports: [0, 0], ...options });
  started.push(server);
  return { server, ...(await server.start()) };
}

async function client(host = '127.0.0.1'): Promise<UdpClient> {
  const c = await UdpClient.bound(host);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

const hasIpv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.internal && i.family === 'IPv6');

describe('StunResponder', () => {
  it('answers Binding requests on both ports with the source address', async () => {
    const { server, address, ports } = await responder();
    expect(address).toBe('127.0.0.1');
    expect(ports[0]).not.toBe(ports[1]);
    const c = await client();
    for (const port of ports) {
      const outcome = await c.transactions.request({ address, port });
      expect(outcome).toEqual({ kind: 'success', mapped: c.local, from: { address, port } });
    }
    expect(readSoftware(c.received[0]!.message)).toBe('mesh-agent');
    expect(c.received[0]!.message.fingerprint).toBe(true);
    expect(server.counters).toEqual({ answered: 2, dropped: 0, rateLimited: 0 });
  });

  it('lets an agent on loopback find that it has no NAT', async () => {
    const { address, ports } = await responder();
    const c = await client();
    const servers: [Endpoint, Endpoint] = [
      { address, port: ports[0] },
      { address, port: ports[1] },
    ];
    const discovery = await discoverNatKind((s) => c.transactions.mappedAddress(s), servers, [c.local]);
    expect(discovery).toEqual({ kind: 'none', mapped: [c.local, c.local] });
  });

  it('drops everything but Binding requests, and keeps answering', async () => {
    const { server, ports } = await responder();
    const c = await client();
    const request = decodeStun(bindingRequest());
    if (!request.ok) throw new Error('unreachable');
    const badFingerprint = encodeStun(request.message, { fingerprint: true });
    badFingerprint[badFingerprint.length - 1]! ^= 1;
    const truncatedAttribute = bindingRequest([{ type: 0x8022, value: Buffer.from('abcd') }]);
    truncatedAttribute.writeUInt16BE(8, 22);
    const garbage = [
      Buffer.alloc(0),
      Buffer.from('hello'),
      Buffer.concat([Buffer.from([0xc0]), randomBytes(1199)]), // a QUIC long header
      Buffer.alloc(9000),
      encodeStun({ ...request.message, class: 'success' }),
      encodeStun({ ...request.message, class: 'indication' }),
      encodeStun({ ...request.message, method: 0x003 }), // Allocate, which this is not
      badFingerprint,
      truncatedAttribute,
      bindingRequest().subarray(0, 19),
    ];
    for (const packet of garbage) c.send(packet, ports[0]);
    // Datagrams from one socket are handled in order: once this one is answered, all were seen.
    c.send(bindingRequest(), ports[0]);
    await until(() => c.received.length === 1, 'the answer');
    expect(c.received[0]!.message.class).toBe('success');
    expect(server.counters).toEqual({ answered: 1, dropped: garbage.length, rateLimited: 0 });
  });

  it('answers 420 to a Binding request with an unknown comprehension-required attribute', async () => {
    const { ports } = await responder();
    const c = await client();
    c.send(bindingRequest([{ type: 0x0024, value: Buffer.alloc(4) }]), ports[1]);
    await until(() => c.received.length === 1, 'the answer');
    expect(readErrorCode(c.received[0]!.message)?.code).toBe(420);
  });

  it.skipIf(process.platform !== 'linux')(
    'rate-limits a flooding source while others still get answers',
    async () => {
      // Linux routes all of 127.0.0.0/8 to loopback, so 127.0.0.2 is a second source address.
      const { server, ports } = await responder({ rateLimit: { messagesPerSecond: 0.01, burst: 5 } });
      const flooder = await client('127.0.0.1');
      const bystander = await client('127.0.0.2');
      for (let i = 0; i < 200; i++) flooder.send(bindingRequest(), ports[i % 2]!);
      bystander.send(bindingRequest(), ports[0]);
      await until(() => bystander.received.length === 1, 'the bystander’s answer');
      await until(() => flooder.received.length === 5, 'the flooder’s burst');
      expect(server.counters).toEqual({ answered: 6, dropped: 0, rateLimited: 195 });
      expect(readXorMappedAddress(bystander.received[0]!.message)).toEqual(bystander.local);
    },
  );

  it('keeps every answer within about twice its request on the wire', async () => {
    const { ports } = await responder();
    const c = await client();
    const requests = [bindingRequest(), bindingRequest([{ type: 0x0024, value: Buffer.alloc(0) }])];
    for (const request of requests) c.send(request, ports[0]);
    await until(() => c.received.length === 2, 'the answers');
    const udpIpv4Headers = 28;
    requests.forEach((request, i) => {
      const answer = c.received[i]!.message.packet;
      expect((answer.length + udpIpv4Headers) / (request.length + udpIpv4Headers)).toBeLessThanOrEqual(2.1);
    });
  });

  it.skipIf(!hasIpv6Loopback)('serves IPv6 and, dual-stack, IPv4 on ::', async () => {
    const { address, ports } = await responder({ host: '::' });
    expect(address).toBe('::');
    const v6 = await client('::1');
    const v4 = await client('127.0.0.1');
    expect(await v6.transactions.mappedAddress({ address: '::1', port: ports[0] })).toEqual(v6.local);
    // The socket sees ::ffff:127.0.0.1; the client must hear its plain IPv4 address back.
    expect(await v4.transactions.mappedAddress({ address: '127.0.0.1', port: ports[1] })).toEqual(v4.local);
  });

  it('frees its ports on stop() and can start again', async () => {
    const { server, ports } = await responder();
    await server.stop();
    await server.stop();
    for (const port of ports) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => socket.close(resolve));
    }
    const again = await server.start();
    expect(again.ports).toHaveLength(2);
    await expect(server.start()).rejects.toThrow(/already started/);
  });

  it('fails to start on a port in use, and starts once it is free', async () => {
    const busy = await client();
    const busyPort = busy.local.port;
    const server = new StunResponder({ host: '127.0.0.1', ports: [0, busyPort] });
    started.push(server);
    await expect(server.start()).rejects.toThrow(/EADDRINUSE/);
    busy.close();
    clients.splice(clients.indexOf(busy), 1);
    expect((await server.start()).ports[1]).toBe(busyPort);
  });

  it.each<[Partial<StunResponderOptions>, RegExp]>([
    [{ host: 'localhost' }, /not an IP address/],
    [{ ports: [3478, 3478] }, /must differ/],
    [{ ports: [3478, 70_000] }, /0–65535/],
    [{ ports: [3478] as unknown as [number, number] }, /two ports/],
    [{ rateLimit: { messagesPerSecond: 0, burst: 1 } }, /rate limit/],
    [{ maxSources: 0 }, /maxSources/],
  ])('refuses %o', (options, error) => {
    expect(() => new StunResponder({ ports: [0, 0], ...options })).toThrow(error);
  });
});
