import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../packages/host/test/helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '..');
const DEMO = resolve(ROOT, 'scripts/demo.mjs');

/** The README's first command: a new user's first contact, so it must end cleanly. */
describe('the demo (pnpm demo)', () => {
  it('does its work and ends with "done": no warning, no log line, before or at shutdown', async () => {
    const result = await runCli([], process.env, {
      cli: [process.execPath, DEMO],
      cwd: ROOT,
      timeoutMs: 120_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("bob's demo-64MiB.bin");
    expect(result.stdout).toContain('bob sees │ tick 3');
    expect(result.stdout.endsWith('\n== done\n'), result.stdout.slice(-300)).toBe(true);
    // The agents log at warn: anything on stderr is a warning a new user would wonder about.
    expect(result.stderr).toBe('');
  }, 150_000);
});
