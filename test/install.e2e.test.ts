import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cli, runCli, TempDirs, userMachineEnv } from '../packages/host/test/helpers/cli.js';
import {
  type Agent,
  makeAgent,
  type Server,
  startDaemon,
  startServer,
} from '../packages/host/test/helpers/mesh.js';
import {
  expectFileArrives,
  expectHelpListsCommands,
  expectOneTree,
  expectPtyRuns,
} from './helpers/installed.js';

const run = promisify(execFile);
const PACK_INSTALL = resolve(import.meta.dirname, '../scripts/pack-install.mjs');
const NOTE_PLUGIN = resolve(import.meta.dirname, '../examples/note-plugin');

/** What a user gets from `scripts/pack-install.mjs`: the packed tarballs installed into a fresh npm prefix. */
describe('mesh-agent installed from packed tarballs', () => {
  const dirs = new TempDirs();
  let prefix: string;
  let cli: Cli;
  let server: Server | undefined;
  const agents: Agent[] = [];

  beforeAll(async () => {
    prefix = await dirs.make('mesh-agent-prefix-');
    await run(process.execPath, [PACK_INSTALL, prefix], { maxBuffer: 64 * 1024 * 1024 });
    cli = [join(prefix, 'bin', 'mesh-agent')];
  }, 300_000);

  afterAll(async () => {
    await Promise.all([server?.proc.stop(), ...agents.map((a) => a.proc?.stop())]);
    await dirs.cleanup();
  });

  it('puts the command in the prefix, running the installed packages rather than the repository', async () => {
    expect(await realpath(cli[0])).toBe(
      join(await realpath(prefix), 'lib/node_modules/mesh-agent/bin/run.js'),
    );
    await expectHelpListsCommands(cli, dirs);
  });

  it('built the terminal plugin’s native PTY addon', async () => {
    await expectPtyRuns(join(prefix, 'lib/node_modules/mesh-agent/node_modules/@mesh-agent/plugin-terminal'));
  });

  it('is one package with one dependency tree, so errors keep their exit codes and words', async () => {
    await expectOneTree(join(prefix, 'lib/node_modules/mesh-agent'), cli, dirs);
  });

  it('creates an identity', async () => {
    const agent = await makeAgent(dirs, { cli });
    expect(agent.id).toMatch(/^agent-[0-9a-f]{12}$/);
    expect(agent.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('installs a plugin from a packed .tgz, runs its command and removes it, saying one line each', async () => {
    const packed = await dirs.make('mesh-note-pack-');
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', packed], {
      cwd: NOTE_PLUGIN,
    });
    const tarball = join(packed, stdout.trim());
    // A user's shell: none of the test runner's variables (NODE_ENV=test, npm_*).
    const user = await userMachineEnv(dirs);

    const install = await runCli(['plugins', 'install', tarball], user.env, { cli, timeoutMs: 120_000 });
    expect(install).toEqual({
      code: 0,
      stdout: 'installed mesh-agent-plugin-note 1.0.0 (command: send-note)\n',
      stderr: '',
    });
    const help = await runCli(['send-note', '--help'], user.env, { cli });
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Send a short note to another agent');
    // NODE_ENV set for the user's own projects: oclif would look for TypeScript to compile the plugin.
    for (const NODE_ENV of ['development', 'test']) {
      const dev = await runCli(['send-note', '--help'], { ...user.env, NODE_ENV }, { cli });
      expect(dev.stderr, `NODE_ENV=${NODE_ENV}`).toBe('');
      expect(dev.code).toBe(0);
    }

    const uninstall = await runCli(['plugins', 'uninstall', 'mesh-agent-plugin-note'], user.env, {
      cli,
      timeoutMs: 60_000,
    });
    expect(uninstall).toEqual({ code: 0, stdout: 'uninstalled mesh-agent-plugin-note 1.0.0\n', stderr: '' });
    expect((await runCli(['send-note', '--help'], user.env, { cli })).code).not.toBe(0);
  }, 180_000);

  it('sends a file between two daemons through its own signaling server, byte for byte', async () => {
    server = await startServer(dirs, ['--open'], 0, cli);
    const { url } = server;
    const [alice, bob] = await Promise.all([makeAgent(dirs, { cli }), makeAgent(dirs, { cli })]);
    agents.push(alice, bob);
    await Promise.all(agents.map((a) => startDaemon(a, ['--server', url])));
    await expectFileArrives({ from: alice, to: bob, url, cli, dirs });
  }, 90_000);
});
