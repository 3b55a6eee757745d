import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliLine, TtyCli } from '../../../../plugins/terminal/test/helpers.js';
import { agentEnv, BIN, runCli, TempDirs } from '../helpers/cli.js';

describe('help, version and mistyped commands', () => {
  const dirs = new TempDirs();
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    env = agentEnv(await dirs.make());
  });
  afterAll(() => dirs.cleanup());

  it('help send-file prints that command’s help', async () => {
    const result = await runCli(['help', 'send-file'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Send files to another agent');
    expect(result.stdout).toMatch(/USAGE\s+\$ mesh-agent send-file FILE\.\.\./);
    expect(result.stdout).toContain('--to');
  });

  it('a reader that closes the pipe early (--help | head -1) ends the CLI as SIGPIPE would, at once', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const [first] = (await once(child.stdout, 'data')) as [Buffer];
    expect(first.toString()).toContain('Peer-to-peer desktop agent');
    child.stdout.destroy();
    const [code] = (await once(child, 'exit')) as [number];
    // Was 13: Node's "unsettled top-level await", as flush() waited on a pipe nobody read. 0 when
    // the help was all written before the pipe closed.
    expect([141, 0]).toContain(code);
    expect(stderr).toBe('');
  });

  it('version prints the CLI package’s version', async () => {
    const root = resolve(import.meta.dirname, '../../../../package.json');
    const { version } = JSON.parse(await readFile(root, 'utf8')) as { version: string };
    const result = await runCli(['version'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`mesh-agent/${version} ${process.platform}-${process.arch} node-`);
    const verbose = JSON.parse((await runCli(['version', '--verbose', '--json'], env)).stdout);
    expect(verbose).toMatchObject({ version, nodeVersion: process.version });
    expect(verbose.plugins).toContainEqual({ name: '@mesh-agent/plugin-terminal', version, type: 'core' });
    // Listed with what it does, like every other command.
    expect((await runCli(['--help'], env)).stdout).toMatch(/^ {2}version +Print the version of mesh-agent/m);
  });

  it('a typo without a terminal names the right command and fails at once, asking nothing', async () => {
    const result = await runCli(['sendfile', 'a.txt'], env, { timeoutMs: 10_000 });
    expect(result.code).toBe(127);
    expect(result.stderr).toBe(
      'error: sendfile a.txt is not a mesh-agent command\nhint:  did you mean send-file? mesh-agent help lists every command\n',
    );
  });

  it('help for a typo names the right command too, as running it would', async () => {
    for (const args of [
      ['help', 'sendfile'],
      ['sendfile', '--help'],
    ]) {
      const result = await runCli(args, env, { timeoutMs: 10_000 });
      expect(result.code, args.join(' ')).toBe(127);
      expect(result.stderr).toBe(
        'error: sendfile is not a mesh-agent command\nhint:  did you mean send-file? mesh-agent help lists every command\n',
      );
    }
  });

  it('a typo at a terminal asks "Did you mean send-file?" and fails on no', async () => {
    const tty = new TtyCli(cliLine(['sendfile']), env);
    try {
      await tty.waitFor(/Did you mean .*send-file.*\(Y\/n\)/);
      tty.type('n\r');
      expect(await tty.exited).toBe(127);
    } finally {
      tty.kill();
    }
  });
});
