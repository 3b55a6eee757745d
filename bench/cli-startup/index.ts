// `mesh-agent --help` start-up time next to a bare `node` start, median of N runs each.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { type BenchRow, hasFlag, report } from '../lib/report.js';

const RUNS = 15;
const BIN = resolve(import.meta.dirname, '../../bin/run.js');

function median(cmd: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, cmd, { stdio: 'ignore' });
    if (result.status !== 0) throw new Error(`${cmd.join(' ')} exited ${result.status}`);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(RUNS / 2)] as number;
}

const rows: BenchRow[] = [
  { case: '--help', tool: 'mesh-agent', metric: 'p50', value: median([BIN, '--help']), unit: 'ms' },
  { case: '--help', tool: 'node', metric: 'p50', value: median(['-e', '0']), unit: 'ms' },
];
report(rows, {
  json: hasFlag('--json'),
  reference: 'node',
  title: `mesh-agent --help vs bare node start (median of ${RUNS})`,
});
