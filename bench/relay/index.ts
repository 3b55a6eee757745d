/**
 * Relay throughput: a sending RelayClient (its own process) pushes datagrams through
 * `mesh-agent relay` (the built CLI, its own process) to a receiving RelayClient in this process,
 * on loopback.
 *
 *   npx tsx bench/relay/index.ts [--json] [--size <MiB>] [--datagram <bytes>]
 *
 * Reports delivered MB/s, the share of datagrams delivered (the hub drops what the receiver's
 * socket cannot take, as a full UDP queue would), the hub's RSS before, after and at its peak,
 * and the hub's CPU seconds per GB relayed. The sender never queues more than its client's
 * buffer cap; the relay's rate and byte caps are lifted so they do not set the figure.
 */
import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { RelayClient } from '@mesh-agent/host/nat';
import { mintRelayGrant } from '@mesh-agent/signal-server';
import { cpuSeconds, PeakRss, rssMb, start, waitFor } from '../lib/proc.js';
import { type BenchRow, report } from '../lib/report.js';
import type { SenderMessage, SenderSpec } from './sender.js';

const MIB = 1024 * 1024;
const BIN = resolve(import.meta.dirname, '../../bin/run.js');
const SENDER = resolve(import.meta.dirname, 'sender.ts');

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = Number(get('--size') ?? 1024);
  const datagram = Number(get('--datagram') ?? 1350);
  if (!(size > 0)) throw new Error('--size takes a positive number of MiB');
  if (!Number.isInteger(datagram) || datagram < 1 || datagram > 16 * 1024) {
    throw new Error('--datagram takes a whole number of bytes, 1–16384');
  }
  return { json: argv.includes('--json'), bytes: Math.round(size * MIB), datagram };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Measured {
  sent: number;
  received: number;
  seconds: number;
  rssBefore: number;
  rssAfter: number;
  rssPeak: number;
  cpu: number;
}

/** One transfer through the hub at `url` (process `pid`), signed with `key`. */
async function transfer(
  url: string,
  pid: number,
  key: Buffer,
  bytes: number,
  datagram: number,
): Promise<Measured> {
  const sessionId = randomUUID();
  const expiresAt = Date.now() + 10 * 60_000;
  const receiver = new RelayClient({
    url,
    grant: mintRelayGrant(key, { sessionId, agentId: 'receiver', peerId: 'sender', expiresAt }),
  });
  await receiver.connect();
  let received = 0;
  let lastAt = 0;
  receiver.on('datagram', (d) => {
    received += d.length;
    lastAt = performance.now();
  });
  const spec: SenderSpec = {
    url,
    grant: mintRelayGrant(key, { sessionId, agentId: 'sender', peerId: 'receiver', expiresAt }),
    count: Math.ceil(bytes / datagram),
    datagram,
  };
  const sender = fork(SENDER, [JSON.stringify(spec)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const next = async (): Promise<SenderMessage> => {
    const [message] = (await once(sender, 'message')) as [SenderMessage];
    if (message.type === 'failed') throw new Error(`sender failed: ${message.message}`);
    return message;
  };
  try {
    await next(); // bound
    const rssBefore = rssMb(pid);
    const cpuBefore = cpuSeconds(pid);
    const peak = new PeakRss(pid);
    const started = performance.now();
    sender.send('go');
    const done = await next();
    const sent = (done.type === 'sent' ? done.count : 0) * datagram;
    // Wait for the tail; stop once nothing more arrives (the rest was dropped).
    for (let last = -1; received !== last && received < sent; ) {
      last = received;
      await sleep(200);
    }
    return {
      sent,
      received,
      seconds: (lastAt - started) / 1000,
      cpu: cpuSeconds(pid) - cpuBefore,
      rssPeak: peak.stop(),
      rssBefore,
      rssAfter: rssMb(pid),
    };
  } finally {
    sender.kill();
    await receiver.close();
  }
}

async function main(): Promise<void> {
  const { json, bytes, datagram } = parseArgs(process.argv.slice(2));
  const secret = randomBytes(48).toString('base64');
  // Rate cap lifted (a burst of 1/8 s of it), so the figure is the hub's own speed.
  const hub = start(
    process.execPath,
    [BIN, 'relay', '--port', '0', '--json', '--log-level', 'warn', '--session-rate', '1000000000000'],
    { env: { ...process.env, MESH_RELAY_SECRET: secret } },
  );
  try {
    await waitFor(hub, (out) => out.includes('\n'));
    const { url } = JSON.parse(hub.stdout) as { url: string };
    const m = await transfer(url, hub.child.pid as number, Buffer.from(secret), bytes, datagram);
    const caseName = `${(bytes / MIB).toFixed(0)} MiB of ${datagram}-byte datagrams`;
    const row = (metric: string, value: number, unit: string): BenchRow => ({
      case: caseName,
      tool: 'mesh-agent relay',
      metric,
      value,
      unit,
    });
    report(
      [
        row('delivered', m.received / m.seconds / 1e6, 'MB/s'),
        row('bytes delivered', (100 * m.received) / m.sent, '%'),
        row('hub RSS before', m.rssBefore, 'MB'),
        row('hub RSS after', m.rssAfter, 'MB'),
        row('hub RSS peak', m.rssPeak, 'MB'),
        row('hub CPU per GB delivered', m.cpu / (m.received / 1e9), 's'),
      ],
      {
        json,
        reference: 'mesh-agent relay',
        title: `relay on loopback: ${caseName}, sender → hub → receiver`,
      },
    );
  } finally {
    hub.child.kill('SIGTERM');
    await hub.exited;
  }
}

await main();
