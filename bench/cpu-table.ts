// Where each thread of each agent spends its CPU, by component, from V8 CPU profiles:
//
//   BENCH_CLI_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' pnpm bench file-transfer --lan --only 'mesh-agent 1350' --runs 1
//   npx tsx bench/cpu-table.ts /tmp/prof [--packets <datagrams per side>]
//
// Node writes one profile per thread (CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile; thread 0 is
// the main thread, 1 the QUIC driver). Self time goes to the component of the frame it was spent
// in (FUNCTIONS, then COMPONENTS by script); time in a native function without a script goes to its
// nearest caller that has a component.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * The driver's calls into quiche run inside these functions: a napi call is not a frame of its
 * own in V8's profile, so their self time is quiche's work plus the loop around it.
 */
const FUNCTIONS = new Map([
  ['drainSend', 'quiche send: packets built, encrypted (napi + loop)'],
  ['onQuic', 'quiche recv: packets decrypted, processed (napi + loop)'],
  ['feedSends', 'stream data written into quiche (napi + loop)'],
  ['readStream', 'stream data read from quiche (napi + loop)'],
  ['readStreams', 'stream data read from quiche (napi + loop)'],
  ['postMessage', 'driver ↔ main messages'],
]);
/** Components by script path; the first match wins. */
const COMPONENTS: Array<[string, RegExp]> = [
  ['UDP I/O (addon, dgram)', /udp-batch|node:dgram|internal\/dgram/],
  ['QUIC driver, other (JS)', /\/quic\/driver|\/quic\/paths|driver-worker|driver\.js/],
  ['driver ↔ main messages', /driver-link|worker_threads|internal\/worker/],
  ['streams and frame codec', /\/wire\/|\/quic\/connection|\/quic\/endpoint|internal\/streams/],
  ['hashing (BLAKE3)', /blake|hasher/],
  ['file I/O', /disk-io|internal\/fs|node:fs/],
  ['file plugin', /plugins\/file-transfer/],
  ['module loading and start-up', /internal\/modules|internal\/bootstrap|oclif|ajv|cosmiconfig/],
];

function componentOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8 and libuv (outside JS)';
  const named = FUNCTIONS.get(functionName);
  if (named && (url === '' || /\/quic\//.test(url))) return named;
  for (const [name, pattern] of COMPONENTS) if (pattern.test(url)) return name;
  return url ? 'other JavaScript' : '';
}

/** Milliseconds of CPU per component in one profile. */
function tally(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const component = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      const found = frame && componentOf(frame.url, frame.functionName);
      if (found) return found;
    }
    return 'other';
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = component(id);
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return totals;
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: tsx bench/cpu-table.ts <profile dir> [--packets <n>]');
const packetsAt = process.argv.indexOf('--packets');
const packets = packetsAt > 0 ? Number(process.argv[packetsAt + 1]) : undefined;
const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
// The pid that started first is the receiver (the bench starts it before the sender).
const pids = [...new Set(files.map((f) => f.split('.')[3] as string))].sort((a, b) => Number(a) - Number(b));
const roleOf = (pid: string) =>
  pids.length === 2 ? (pid === pids[0] ? 'receiver' : 'sender') : `pid ${pid}`;
const columns = new Map<string, Map<string, number>>();
for (const file of files.sort()) {
  const [, , , pid, thread] = file.split('.');
  const label = `${roleOf(pid as string)} ${thread === '0' ? 'main' : 'driver'}`;
  columns.set(label, tally(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile));
}
const rows = [...new Set([...columns.values()].flatMap((c) => [...c.keys()]))].filter((r) => r !== 'idle');
const cell = (ms: number | undefined) =>
  ms === undefined || ms < 1
    ? ''
    : packets
      ? `${Math.round(ms)} ms (${((ms * 1e6) / packets).toFixed(0)} ns/pkt)`
      : `${Math.round(ms)} ms`;
const busy = (c: Map<string, number>) =>
  [...c].filter(([k]) => k !== 'idle').reduce((sum, [, v]) => sum + v, 0);
const ordered = rows.sort(
  (a, b) =>
    [...columns.values()].reduce((s, c) => s + (c.get(b) ?? 0), 0) -
    [...columns.values()].reduce((s, c) => s + (c.get(a) ?? 0), 0),
);
const labels = [...columns.keys()];
console.log(`| component | ${labels.join(' | ')} |`);
console.log(`| --- | ${labels.map(() => '---').join(' | ')} |`);
for (const row of ordered)
  console.log(`| ${row} | ${labels.map((l) => cell(columns.get(l)?.get(row))).join(' | ')} |`);
console.log(
  `| **busy in all** | ${labels.map((l) => cell(busy(columns.get(l) as Map<string, number>))).join(' | ')} |`,
);
