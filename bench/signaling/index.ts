/**
 * Signaling under load: simulated agents (lightweight WebSocket clients, sim-agent.ts, in this
 * process) against `mesh-agent server` processes: one node alone, then two nodes on one Redis.
 *
 *   pnpm bench signaling [--json] [--agents 2000] [--rate 500] [--seconds 4] [--only one-node|two-nodes]
 *
 * Per case: joins per second while the agents fill one room; server RSS with them and per 1,000
 * of them; the bytes all members receive for one membership change as the room grows (it must
 * grow linearly); session brokering latency p50 / p99 at --rate requests/s (open loop), on one
 * node and, with two, between agents of one node and agents of different nodes. The machine has
 * two cores shared by the servers, Redis and this load generator: read the figures as per-node
 * capacity, not as a scale-out ratio.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type AgentIdentity, generateIdentity } from '@mesh-agent/host';
import { redisAvailable, TestRedis } from '../../packages/signal-server/test/redis-helpers.js';
import { rssMb, start, waitFor } from '../lib/proc.js';
import { type BenchRow, report } from '../lib/report.js';
import { percentile } from '../lib/rounds.js';
import { SimAgent } from './sim-agent.js';

const BIN = resolve(import.meta.dirname, '../../bin/run.js');
const ROOM = 'bench';
/** Joins in flight at once. */
const CONCURRENCY = 64;

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const agents = Number(get('--agents') ?? 2000);
  const rate = Number(get('--rate') ?? 500);
  const seconds = Number(get('--seconds') ?? 4);
  if (!Number.isInteger(agents) || agents < 4) throw new Error('--agents takes a whole number ≥ 4');
  if (!(rate > 0) || !(seconds > 0)) throw new Error('--rate and --seconds take positive numbers');
  return { json: argv.includes('--json'), agents, rate, seconds, only: get('--only') };
}

/** Far above any run's agents and request rate. */
const LIMIT = 1_000_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Node {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startNode(redisUrl?: string): Promise<Node> {
  // Its own data directory: bindings of simulated ids must not land in the user's.
  const dataDir = await mkdtemp(join(tmpdir(), 'mesh-bench-signal-'));
  const quiet = ['--open', '--port', '0', '--json', '--no-stun', '--no-relay', '--log-level', 'error'];
  // Every simulated agent comes from 127.0.0.1 and one pair may be asked for many sessions a
  // second: the limits a public server puts on one address and one agent would refuse them.
  const unlimited = [
    '--max-connections',
    String(LIMIT),
    '--max-connections-per-address',
    String(LIMIT),
    '--session-requests-per-second',
    String(LIMIT),
  ];
  const where = ['--data-dir', dataDir, ...(redisUrl ? ['--redis', redisUrl] : [])];
  const run = start(process.execPath, [BIN, 'server', ...quiet, ...unlimited, ...where]);
  await waitFor(run, (out) => out.includes('\n'));
  const { url } = JSON.parse(run.stdout) as { url: string };
  return {
    url,
    pid: run.child.pid as number,
    stop: async () => {
      run.child.kill('SIGTERM');
      await run.exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const received = (agents: readonly SimAgent[]) => agents.reduce((sum, a) => sum + a.bytesIn, 0);

/** Waits until the agents have received nothing for a while: the last change has landed. */
async function settled(agents: readonly SimAgent[]): Promise<void> {
  for (let last = -1; ; ) {
    await sleep(100);
    const now = received(agents);
    if (now === last) return;
    last = now;
  }
}

/**
 * Fills the room with `count` agents spread over the nodes, pausing at each checkpoint size to
 * measure what one more agent joining costs the room in bytes.
 */
async function fill(nodes: readonly Node[], count: number, identity: AgentIdentity) {
  const agents: SimAgent[] = [];
  const perChange: Array<{ size: number; bytes: number }> = [];
  let joining = 0;
  const checkpoints = [100, 250, 500, 1000, 2500, 5000].filter((size) => size < count);
  for (const size of [...checkpoints, count]) {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (agents.length < size) {
          const index = agents.length;
          agents.push(undefined as unknown as SimAgent);
          const node = nodes[index % nodes.length] as Node;
          agents[index] = await SimAgent.connect(node.url, `sim-${index}`, identity, ROOM);
        }
      }),
    );
    joining += performance.now() - started;
    if (size === count) break;
    await settled(agents);
    const before = received(agents);
    const probe = await SimAgent.connect((nodes[0] as Node).url, `probe-${size}`, identity, ROOM);
    await settled(agents);
    perChange.push({ size, bytes: received(agents) - before });
    probe.close();
    await settled(agents);
  }
  return { agents, joinsPerSecond: count / (joining / 1000), perChange };
}

/** Sends p2p.request at `rate` per second (open loop) over the pairs, round robin; latency per pair kind. */
async function broker(
  kinds: Record<string, Array<[SimAgent, SimAgent]>>,
  rate: number,
  seconds: number,
): Promise<Record<string, number[]>> {
  const latencies: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const schedule = Object.entries(kinds);
  const total = Math.round(rate * seconds);
  const inflight: Promise<void>[] = [];
  const started = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; sent < due; sent++) {
      const [kind, pairs] = schedule[sent % schedule.length] as [string, Array<[SimAgent, SimAgent]>];
      const [from, to] = pairs[Math.floor(sent / schedule.length) % pairs.length] as [SimAgent, SimAgent];
      const at = performance.now();
      inflight.push(
        from.request('p2p.request', { peer_id: to.agentId, stream_type: 'file' }).then((answer) => {
          if (answer.type !== 'p2p.session')
            throw new Error(`brokering failed: ${JSON.stringify(answer.data)}`);
          latencies[kind]?.push(performance.now() - at);
        }),
      );
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  for (const list of Object.values(latencies)) list.sort((a, b) => a - b);
  return latencies;
}

async function runCase(
  name: string,
  nodes: readonly Node[],
  opts: ReturnType<typeof parseArgs>,
  identity: AgentIdentity,
): Promise<BenchRow[]> {
  const row = (metric: string, value: number, unit: string): BenchRow => ({
    case: name,
    tool: 'mesh-agent server',
    metric,
    value,
    unit,
  });
  const rssBefore = nodes.map((n) => rssMb(n.pid));
  const { agents, joinsPerSecond, perChange } = await fill(nodes, opts.agents, identity);
  await settled(agents);
  const rssAfter = nodes.map((n) => rssMb(n.pid));
  const perNode = opts.agents / nodes.length;
  const rows = [row(`joins per second, ${opts.agents} agents`, joinsPerSecond, '/s')];
  for (const [i, rss] of rssAfter.entries()) {
    rows.push(row(`node ${i + 1} RSS with ${perNode} agents`, rss, 'MB'));
    rows.push(row(`node ${i + 1} RSS per 1000 agents`, ((rss - (rssBefore[i] ?? 0)) / perNode) * 1000, 'MB'));
  }
  for (const { size, bytes } of perChange)
    rows.push(row(`bytes per membership change, room of ${size}`, bytes, 'B'));
  // Pairs that share a node step by the node count; cross-node pairs are neighbours.
  const step = nodes.length;
  const half = Math.floor(agents.length / 2);
  const sameNode = Array.from(
    { length: half - step },
    (_, i) => [agents[i], agents[i + step]] as [SimAgent, SimAgent],
  );
  const kinds: Record<string, Array<[SimAgent, SimAgent]>> = { 'same node': sameNode };
  if (nodes.length > 1)
    kinds['across nodes'] = Array.from(
      { length: half - 1 },
      (_, i) => [agents[2 * i], agents[2 * i + 1]] as [SimAgent, SimAgent],
    );
  const latencies = await broker(kinds, opts.rate, opts.seconds);
  for (const [kind, sorted] of Object.entries(latencies)) {
    rows.push(row(`brokering p50, ${kind}, ${opts.rate}/s`, percentile(sorted, 50), 'ms'));
    rows.push(row(`brokering p99, ${kind}, ${opts.rate}/s`, percentile(sorted, 99), 'ms'));
  }
  for (const agent of agents) agent.close();
  return rows;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const identity = await generateIdentity();
  const rows: BenchRow[] = [];
  if (opts.only !== 'two-nodes') {
    const node = await startNode();
    try {
      rows.push(...(await runCase('one node', [node], opts, identity)));
    } finally {
      await node.stop();
    }
  }
  if (opts.only !== 'one-node') {
    if (!redisAvailable()) {
      console.error('two-node case skipped: redis-server is not installed');
    } else {
      const redis = await TestRedis.start();
      const nodes = await Promise.all([startNode(redis.url), startNode(redis.url)]);
      try {
        rows.push(...(await runCase('two nodes, one Redis', nodes, opts, identity)));
      } finally {
        await Promise.all(nodes.map((n) => n.stop()));
        await redis.stop();
      }
    }
  }
  report(rows, { json: opts.json, title: `signaling: ${opts.agents} simulated agents in one room` });
}

await main();
