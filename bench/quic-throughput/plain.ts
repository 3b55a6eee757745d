import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export type PlainTool = 'tcp' | 'tls';

/** Baselines: a plain TCP or TLS 1.3 server on `host` (no Nagle) that hands each connection to `onStream`. */
export async function listenPlain(
  tool: PlainTool,
  host: string,
  identity: { keyPem: string; certPem: string },
  onStream: (stream: Duplex) => void,
): Promise<number> {
  const server =
    tool === 'tls'
      ? tls.createServer(
          { key: identity.keyPem, cert: identity.certPem, minVersion: 'TLSv1.3', noDelay: true },
          onStream,
        )
      : net.createServer({ noDelay: true }, onStream);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

export async function connectPlain(tool: PlainTool, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket =
      tool === 'tls'
        ? // Self-signed benchmark certificate: only the transfer cost is measured here.
          tls.connect({ host, port, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () =>
            resolve(socket.setNoDelay(true)),
          )
        : net.connect({ host, port, noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}
