/** One measurement, as `pnpm bench <name> --json` prints it. */
export interface BenchRow {
  case: string;
  tool: string;
  metric: string;
  value: number;
  unit: string;
}

/**
 * Prints the rows as JSON (with --json) or as an aligned table, with a ratio column per case and metric
 * against the `reference` tool (none without one).
 */
export function report(rows: BenchRow[], opts: { json: boolean; reference?: string; title: string }): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const ref = new Map(
    rows.filter((r) => r.tool === opts.reference).map((r) => [`${r.case}/${r.metric}`, r.value]),
  );
  const table = rows.map((r) => {
    const base = ref.get(`${r.case}/${r.metric}`);
    const row = { case: r.case, tool: r.tool, metric: r.metric, value: `${round(r.value)} ${r.unit}` };
    return opts.reference
      ? { ...row, [`vs ${opts.reference}`]: base ? `${round(r.value / base)}x` : '' }
      : row;
  });
  console.log(`\n${opts.title}`);
  console.table(table);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export const hasFlag = (name: string) => process.argv.includes(name);
