import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
// @matrixai/quic is a dependency of the host package, not of the workspace root.
import {
  events,
  QUICClient,
  QUICServer,
} from '../../packages/host/node_modules/@matrixai/quic/dist/index.js';

type QuietLogger = ConstructorParameters<typeof QUICServer>[0]['logger'];

/** A logger that drops everything (the library logs every stream at INFO otherwise). */
const quiet: QuietLogger = new Proxy({} as NonNullable<QuietLogger>, {
  get: (_target, prop) => (prop === 'getChild' ? () => quiet : () => {}),
});

/** The high-level @matrixai/quic API (QUICServer / QUICClient / QUICStream web streams), for comparison. */
export async function runMatrixaiReceiver(
  host: string,
  identity: { keyPem: string; certPem: string },
  onDone: (bytes: number, ms: number) => void,
  onStart: () => void,
): Promise<number> {
  const key = randomBytes(32);
  const hmac = (data: ArrayBuffer) => createHmac('sha256', key).update(Buffer.from(data)).digest();
  const server = new QUICServer({
    crypto: {
      key: key.buffer.slice(key.byteOffset, key.byteOffset + key.byteLength) as ArrayBuffer,
      ops: {
        sign: async (_key: ArrayBuffer, data: ArrayBuffer) => {
          const mac = hmac(data);
          return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.byteLength) as ArrayBuffer;
        },
        verify: async (_key: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) => {
          const mac = hmac(data);
          const given = Buffer.from(sig);
          return given.length === mac.length && timingSafeEqual(given, mac);
        },
      },
    },
    config: { key: identity.keyPem, cert: identity.certPem, verifyPeer: false },
    logger: quiet,
  });
  server.addEventListener(events.EventQUICServerConnection.name, (evt: Event) => {
    const conn = (evt as events.EventQUICServerConnection).detail;
    conn.addEventListener(events.EventQUICConnectionStream.name, (streamEvt: Event) => {
      const stream = (streamEvt as events.EventQUICConnectionStream).detail;
      void (async () => {
        const reader = stream.readable.getReader();
        let bytes = 0;
        let first = 0;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          if (bytes === 0) {
            first = performance.now();
            onStart();
          }
          bytes += value.byteLength;
        }
        onDone(bytes, performance.now() - first);
      })();
    });
  });
  await server.start({ host, port: 0 });
  return server.port;
}

export async function runMatrixaiSender(
  localHost: string,
  host: string,
  port: number,
  bytes: number,
  onStart: () => void,
): Promise<void> {
  const client = await QUICClient.createQUICClient({
    host,
    port,
    localHost,
    crypto: {
      ops: {
        randomBytes: async (data: ArrayBuffer) => {
          randomFillSync(new Uint8Array(data));
        },
      },
    },
    config: { verifyPeer: false },
    logger: quiet,
  });
  const stream = client.connection.newStream();
  const writer = stream.writable.getWriter();
  onStart();
  const chunk = new Uint8Array(1024 * 1024).fill(0x5a);
  let left = bytes;
  while (left > 0) {
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= piece.length;
    await writer.write(piece);
  }
  await writer.close();
}
