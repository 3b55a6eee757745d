/**
 * The sending agent of the relay bench, in its own process so that it never holds up the receiver:
 * binds its grant, reports `bound`, then on `go` pushes datagrams as fast as its client's buffer
 * cap lets it and reports how many it sent.
 */
import { randomBytes } from 'node:crypto';
import { RelayClient } from '@mesh-agent/host/nat';

export interface SenderSpec {
  url: string;
  grant: string;
  count: number;
  datagram: number;
}

export type SenderMessage =
  | { type: 'bound' }
  | { type: 'sent'; count: number }
  | { type: 'failed'; message: string };

const send = (message: SenderMessage) => process.send?.(message);
const spec = JSON.parse(process.argv[2] as string) as SenderSpec;
const client = new RelayClient({ url: spec.url, grant: spec.grant });

try {
  await client.connect();
  send({ type: 'bound' });
  await new Promise((resolve) => process.once('message', resolve));
  const payload = randomBytes(spec.datagram);
  let sent = 0;
  while (sent < spec.count) {
    while (sent < spec.count && client.send(payload)) sent++;
    // The socket is full: let it drain (a timer, not setImmediate, so this does not spin).
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  send({ type: 'sent', count: sent });
} catch (error) {
  send({ type: 'failed', message: (error as Error).message });
}
