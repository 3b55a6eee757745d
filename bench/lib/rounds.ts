/**
 * `--runs <n>` (default 3): how many times each tool runs. On this 2-core VM one tool's speed
 * moves by ±25% from one minute to the next; a median of interleaved runs keeps the ratios.
 */
export function runsArg(argv: string[] = process.argv): number {
  const at = argv.indexOf('--runs');
  const runs = at >= 0 ? Number(argv[at + 1]) : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  return runs;
}

/**
 * Runs every case `runs` times, interleaved (A B C, A B C, …), so that a slow stretch of the
 * machine lands on every tool rather than on one; returns each case's results in run order.
 */
export async function interleaved<C, M>(
  cases: C[],
  runs: number,
  once: (c: C) => Promise<M>,
): Promise<Map<C, M[]>> {
  const results = new Map<C, M[]>(cases.map((c) => [c, []]));
  for (let round = 0; round < runs; round++) for (const c of cases) results.get(c)?.push(await once(c));
  return results;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The value at percentile `p` (0–100) of ascending `sorted`, nearest rank (p99 of 20 samples is the largest). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number;
}
