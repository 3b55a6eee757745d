/**
 * One side of a throughput run, in its own process. argv[2] is a JSON `PeerSpec`; results go to the
 * parent over IPC. The receiver counts bytes from the first one to the end of the stream; both sides
 * sample their peak RSS and the worst lag of their main event loop during the transfer.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { generateIdentity } from '../../packages/host/src/identity/identity.js';
import type { UdpIoStats } from '../../packages/host/src/quic/index.js';
import { echo, ping } from './latency.js';
import { runMatrixaiReceiver, runMatrixaiSender } from './matrixai.js';
import { connectPlain, listenPlain, type PlainTool } from './plain.js';

export type Tool = 'mesh-agent' | 'matrixai-quic' | PlainTool;

export interface PeerSpec {
  role: 'sender' | 'receiver';
  tool: Tool;
  bytes: number;
  maxUdpPayload?: number;
  driver?: 'worker' | 'inline';
  /** Where this side binds (the receiver listens there): 127.0.0.1 unless the bench runs --lan. */
  host: string;
  /** The receiver's address, for the sender. */
  peerHost?: string;
  port?: number;
  fingerprint?: string;
  /** 'latency': the receiver echoes, the sender pings `rounds` times (`gapMs` apart) and reports round trips. */
  mode?: 'throughput' | 'latency';
  rounds?: number;
  gapMs?: number;
}

export type PeerMessage =
  | { type: 'ready'; port: number; fingerprint: string }
  | { type: 'received'; bytes: number; ms: number }
  | { type: 'sample'; rssPeakMb: number; lagMaxMs: number; udp?: UdpIoStats }
  | { type: 'latency'; samples: number[] }
  | { type: 'failed'; message: string };

const spec = JSON.parse(process.argv[2] ?? '{}') as PeerSpec;
const send = (msg: PeerMessage) => process.send?.(msg);

// Peak RSS, sampled, and main-loop lag, recorded once the transfer starts.
let rssPeak = process.memoryUsage.rss();
const rssTimer = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 20);
if (process.env.BENCH_DEBUG_MEMORY) {
  // Collections of the main thread since the last line: minor = scavenges, major = mark-compact steps.
  const gcs = { minor: 0, major: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
      else gcs.major++;
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    const m = process.memoryUsage();
    const mb = (n: number) => (n / 1e6).toFixed(0);
    console.error(
      `${spec.role} rss=${mb(m.rss)} heap=${mb(m.heapTotal)} ext=${mb(m.external)} ab=${mb(m.arrayBuffers)} gc minor=${gcs.minor} major=${gcs.major}`,
    );
    gcs.minor = 0;
    gcs.major = 0;
  }, 500).unref();
}
const lag = monitorEventLoopDelay({ resolution: 5 });
const transferStarted = () => {
  lag.reset();
  lag.enable();
};

/** The mesh-agent endpoint's UDP I/O figures (path, datagrams per call), for the report. */
let udpStats: (() => Promise<UdpIoStats>) | null = null;

process.on('message', async (msg: { type: 'report' }) => {
  if (msg.type !== 'report') return;
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  lag.disable();
  clearInterval(rssTimer);
  const udp = await udpStats?.();
  send({ type: 'sample', rssPeakMb: rssPeak / 1e6, lagMaxMs: lag.max / 1e6, udp });
});
process.on('disconnect', () => process.exit(0));

/** Counts a stream's bytes from the first one to its end. */
function receive(stream: Duplex): void {
  let bytes = 0;
  let first = 0;
  stream.on('data', (chunk: Buffer) => {
    if (bytes === 0) {
      first = performance.now();
      transferStarted();
    }
    bytes += chunk.length;
  });
  stream.on('end', () => {
    send({ type: 'received', bytes, ms: performance.now() - first });
    stream.end();
  });
  stream.on('error', (error) => send({ type: 'failed', message: error.message }));
}

/** Writes `bytes` from one reused 1 MiB buffer, honouring backpressure, then ends the stream. */
async function transmit(stream: Duplex, bytes: number): Promise<void> {
  transferStarted();
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  let left = bytes;
  while (left > 0) {
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= piece.length;
    if (!stream.write(piece)) await new Promise((resolve) => stream.once('drain', resolve));
  }
  stream.end();
  // Keep the process (and its stream) alive until the parent has the receiver's figures.
  stream.resume();
}

const latency = spec.mode === 'latency';
/** What the receiver does with a stream, and what the sender does with its stream. */
const onStream = latency ? echo : receive;
async function drive(stream: Duplex): Promise<void> {
  if (!latency) return transmit(stream, spec.bytes);
  const samples = await ping(stream, spec.rounds ?? 1000, spec.gapMs ?? 0);
  send({ type: 'latency', samples });
  stream.resume();
}

async function main(): Promise<void> {
  const identity = await generateIdentity();
  if (spec.tool === 'mesh-agent') {
    const { QuicEndpoint } = await import('../../packages/host/src/quic/index.js');
    const endpoint = await QuicEndpoint.listen({
      host: spec.host,
      identity,
      options: {
        // Both: on loopback the endpoint would otherwise use loopbackUdpPayload.
        maxUdpPayload: spec.maxUdpPayload ?? 1350,
        loopbackUdpPayload: spec.maxUdpPayload ?? 1350,
        driver: spec.driver ?? 'worker',
        idleTimeoutMs: 60_000,
      },
    });
    udpStats = async () => (await endpoint.stats()).udp;
    if (spec.role === 'receiver') {
      endpoint.on('connection', (conn) => conn.on('stream', onStream));
      send({ type: 'ready', port: endpoint.address().port, fingerprint: identity.fingerprint });
    } else {
      const conn = await endpoint.connect({
        host: spec.peerHost!,
        port: spec.port!,
        expectedFingerprint: spec.fingerprint!,
      });
      await drive(conn.openStream());
    }
  } else if (spec.tool === 'matrixai-quic') {
    if (spec.role === 'receiver') {
      const port = await runMatrixaiReceiver(
        spec.host,
        identity,
        (bytes, ms) => send({ type: 'received', bytes, ms }),
        transferStarted,
      );
      send({ type: 'ready', port, fingerprint: identity.fingerprint });
    } else {
      await runMatrixaiSender(spec.host, spec.peerHost!, spec.port!, spec.bytes, transferStarted);
    }
  } else if (spec.role === 'receiver') {
    const port = await listenPlain(spec.tool, spec.host, identity, onStream);
    send({ type: 'ready', port, fingerprint: identity.fingerprint });
  } else {
    await drive(await connectPlain(spec.tool, spec.peerHost!, spec.port!));
  }
}

main().catch((error: Error) => {
  send({ type: 'failed', message: error.stack ?? error.message });
});
