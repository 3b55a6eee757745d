import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import {
  agentEnv,
  type Cli,
  eventually,
  runCli,
  type TempDirs,
} from '../../packages/host/test/helpers/cli.js';
import { type Agent, peersOf } from '../../packages/host/test/helpers/mesh.js';

// Checks shared by the tests that drive an installed mesh-agent (an npm prefix, the .deb).

const run = promisify(execFile);

const USER_COMMANDS = ['run', 'server', 'identity', 'send-file', 'send-folder', 'share-terminal', 'notify'];

/** The installed command's `--help` lists every user command, so every plugin loaded. */
export async function expectHelpListsCommands(cli: Cli, dirs: TempDirs): Promise<void> {
  const result = await runCli(['--help'], agentEnv(await dirs.make()), { cli });
  expect(result.code, result.stderr).toBe(0);
  for (const command of USER_COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
}

/**
 * The CLI installed at `cliDir` is one tree: one copy of oclif and of the host, so classes compared
 * across packages are the same classes. With copies, an error lost its exit code and got oclif's
 * `EEXIT` trailer; this checks both the tree and that symptom.
 */
export async function expectOneTree(cliDir: string, cli: Cli, dirs: TempDirs): Promise<void> {
  const copies = async (name: string) =>
    (await run('find', [cliDir, '-path', `*/node_modules/${name}/package.json`])).stdout
      .split('\n')
      .filter(Boolean);
  expect(await copies('@oclif/core')).toHaveLength(1);
  expect(await copies('@mesh-agent/host')).toHaveLength(1);
  const result = await runCli(['peers'], agentEnv(await dirs.make()), { cli });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/^error: no signaling server is set/m);
  expect(result.stderr).not.toContain('EEXIT');
  // The help class the CLI names is found in the installed tree, and so are the commands' help.
  const help = await runCli(['help', 'send-file'], agentEnv(await dirs.make()), { cli });
  expect(help.code, help.stderr).toBe(0);
  expect(help.stdout).toMatch(/USAGE\s+\$ mesh-agent send-file FILE/);
}

/** The terminal plugin installed in `pluginDir` loads node-pty's native addon and runs a command in a PTY. */
export async function expectPtyRuns(pluginDir: string): Promise<void> {
  const echo = `require('node-pty').spawn('/bin/echo', ['pty-ok'], {}).onData((d) => process.stdout.write(d))`;
  const { stdout } = await run(process.execPath, ['-e', echo], { cwd: pluginDir });
  expect(stdout).toContain('pty-ok');
}

/**
 * `send-file` from one running daemon to another, both in the room of the signaling server at
 * `url`: the file lands in the receiver's downloads byte for byte.
 */
export async function expectFileArrives(opts: {
  from: Agent;
  to: Agent;
  url: string;
  cli: Cli;
  dirs: TempDirs;
}): Promise<void> {
  const { from, to, url, cli } = opts;
  await eventually(async () => (await peersOf(url, from.env, cli)).includes(to.id), 15_000);
  const file = join(await opts.dirs.make('mesh-agent-files-'), 'payload.bin');
  const bytes = randomBytes(3 * 1024 * 1024 + 5);
  await writeFile(file, bytes);
  const sent = await runCli(['send-file', file, '--to', to.id, '--server', url, '--json'], from.env, {
    cli,
    timeoutMs: 60_000,
  });
  expect(sent.code, sent.stderr).toBe(0);
  expect((await readFile(join(to.home, 'downloads', 'payload.bin'))).equals(bytes)).toBe(true);
}
