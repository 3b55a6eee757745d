import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cli, CliProcess, runCli, TempDirs } from '../packages/host/test/helpers/cli.js';
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
const ROOT = resolve(import.meta.dirname, '..');
const BUILD_DEB = join(ROOT, 'scripts/build-deb.mjs');
const INSTALLED_CLI: Cli = ['/usr/bin/mesh-agent'];
const LIB = '/usr/lib/mesh-agent/lib/node_modules';
const UNIT = '/usr/lib/systemd/user/mesh-agent.service';
/** The unprivileged user the unit's command runs as, the way a user manager runs it. */
const USER = { name: 'nobody', group: 'nogroup' };

const succeeds = (command: string, args: string[]) =>
  spawnSync(command, args, { stdio: 'ignore' }).status === 0;

/** Why `dpkg -i` cannot run here, if it cannot. */
function unavailableBecause(): string | undefined {
  if (!succeeds('dpkg-deb', ['--version'])) return 'dpkg-deb is not installed (not a Debian-based system)';
  if (process.getuid?.() !== 0) return 'dpkg -i needs root';
  if (succeeds('dpkg', ['-s', 'mesh-agent']))
    return 'a mesh-agent package is already installed here; the test would replace it and then remove it';
  if (!succeeds('id', [USER.name])) return `there is no "${USER.name}" user to run the agent as`;
  return undefined;
}

const unavailable = unavailableBecause();
if (unavailable) console.warn(`.deb test skipped: ${unavailable}`);
// Where it must run (CI, as root), DEB_REQUIRED=1 turns "skipped" into a failure.
if (unavailable && process.env.DEB_REQUIRED === '1')
  describe('.deb (required)', () => {
    it('can be built and installed here', () => {
      expect.fail(unavailable);
    });
  });

const installed = () => succeeds('dpkg', ['-s', 'mesh-agent']);

/** `Key=value` settings of a unit file, by key (this unit sets each key once). */
function unitSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) settings.set(match[1]!, match[2]!);
  }
  return settings;
}

/** The environment a systemd user manager gives a service: its own, not the test runner's. */
function userManagerEnv(home: string): NodeJS.ProcessEnv {
  return {
    HOME: home,
    USER: USER.name,
    LOGNAME: USER.name,
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
  };
}

describe.skipIf(unavailable)('mesh-agent .deb, installed with dpkg -i', () => {
  const dirs = new TempDirs();
  let deb: string;
  let server: Server | undefined;
  const agents: Agent[] = [];

  beforeAll(async () => {
    const out = await dirs.make('mesh-agent-deb-out-');
    const { stdout } = await run(process.execPath, [BUILD_DEB, out], { maxBuffer: 64 * 1024 * 1024 });
    deb = /^deb: (.+)$/m.exec(stdout)?.[1] ?? '';
    expect(deb, stdout).toMatch(/mesh-agent_.+\.deb$/);
    await run('dpkg', ['-i', deb]);
  }, 600_000);

  afterAll(async () => {
    await Promise.all([server?.proc.stop(), ...agents.map((a) => a.proc?.stop())]);
    if (installed()) await run('dpkg', ['-r', 'mesh-agent']);
    await dirs.cleanup();
  }, 60_000);

  it('declares the package, its version, this architecture and Debian’s nodejs', async () => {
    const field = async (name: string) => (await run('dpkg-deb', ['-f', deb, name])).stdout.trim();
    const { version, engines } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    const architecture = (await run('dpkg', ['--print-architecture'])).stdout.trim();
    expect(await field('Package')).toBe('mesh-agent');
    expect(await field('Version')).toBe(version);
    expect(await field('Architecture')).toBe(architecture);
    // Debian's nodejs, and the libraries the native addons link.
    const depends = (await field('Depends')).split(', ');
    expect(depends[0]).toBe(`nodejs (${engines.node.replace('>=', '>= ')})`);
    expect(depends).toContainEqual(expect.stringMatching(/^libc6 \(>= [\d.]+\)$/));
    expect(await field('Maintainer')).toMatch(/^.+ <.+@.+>$/);
    expect(await field('Description')).toMatch(/^peer-to-peer desktop agent\n .+/);
    expect((await run('dpkg', ['-s', 'mesh-agent'])).stdout).toMatch(/^Status: install ok installed$/m);
  });

  it('ships the command, the user unit, the copyright and the compiled addons, all owned by root', async () => {
    const entries = (await run('dpkg-deb', ['-c', deb], { maxBuffer: 64 * 1024 * 1024 })).stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/));
    expect(entries.filter((e) => e[1] !== 'root/root')).toEqual([]);
    const paths = entries.map((e) => e.slice(5).join(' '));
    expect(paths).toContain('./usr/bin/mesh-agent -> ../lib/mesh-agent/bin/mesh-agent');
    expect(paths).toContain(`.${UNIT}`);
    expect(paths).toContain('./usr/share/doc/mesh-agent/copyright');
    expect(paths).toContain(`.${LIB}/mesh-agent/node_modules/node-pty/build/Release/pty.node`);
    // node-gyp's leftovers name the staging directory and have no use once built.
    expect(paths.filter((p) => /\/build\/(Makefile|config\.gypi)$/.test(p))).toEqual([]);
  });

  it('runs /usr/bin/mesh-agent from the packaged tree, every plugin loaded', async () => {
    expect(await realpath(INSTALLED_CLI[0])).toBe(`${LIB}/mesh-agent/bin/run.js`);
    await expectHelpListsCommands(INSTALLED_CLI, dirs);
  });

  it('built the terminal plugin’s native PTY addon for this machine', async () => {
    await expectPtyRuns(`${LIB}/mesh-agent/node_modules/@mesh-agent/plugin-terminal`);
  });

  it('is one dependency tree, so errors keep their exit codes and words', async () => {
    await expectOneTree(`${LIB}/mesh-agent`, INSTALLED_CLI, dirs);
  });

  it('creates an identity in MESH_AGENT_HOME', async () => {
    const agent = await makeAgent(dirs, { cli: INSTALLED_CLI });
    expect(agent.id).toMatch(/^agent-[0-9a-f]{12}$/);
    expect(agent.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it.skipIf(!succeeds('systemd-analyze', ['--version']))(
    'has a user unit systemd-analyze finds no fault in',
    async () => {
      const runtime = await dirs.make('mesh-agent-xdg-runtime-');
      const verify = spawnSync('systemd-analyze', ['verify', '--user', UNIT], {
        env: { ...process.env, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_TARGET: 'console' },
        encoding: 'utf8',
      });
      expect(verify.stderr).toBe('');
      expect(verify.status).toBe(0);
    },
  );

  it('runs the unit’s command as a user manager would: as the user, in the home, with the user’s config', async () => {
    const unit = unitSettings(await readFile(UNIT, 'utf8'));
    expect(unit.get('WantedBy')).toBe('default.target');
    expect(unit.get('Restart')).toBe('on-failure');
    const [command, ...args] = (unit.get('ExecStart') ?? '').split(/\s+/);
    expect([command, ...args]).toEqual(['/usr/bin/mesh-agent', 'run']);

    server = await startServer(dirs, ['--open'], 0, INSTALLED_CLI);
    const home = await dirs.make('mesh-agent-user-home-');
    await mkdir(join(home, '.config/mesh-agent'), { recursive: true });
    await writeFile(
      join(home, '.config/mesh-agent/config.json'),
      JSON.stringify({ signaling: { url: server.url }, quic: { host: '127.0.0.1', port: 0 } }),
    );
    await run('chown', ['-R', `${USER.name}:${USER.group}`, home]);
    const asUser: Cli = [
      'setpriv',
      `--reuid=${USER.name}`,
      `--regid=${USER.group}`,
      '--clear-groups',
      command!,
    ];
    const env = userManagerEnv(home);

    const identity = await runCli(['identity', '--json'], env, { cli: asUser });
    expect(identity.code, identity.stderr).toBe(0);
    const receiver: Agent = {
      // No MESH_AGENT_HOME in a unit: the agent lives in the XDG data dir.
      home: join(home, '.local/share/mesh-agent'),
      env,
      id: JSON.parse(identity.stdout).agentId,
      fingerprint: JSON.parse(identity.stdout).fingerprint,
      proc: new CliProcess(args, env, asUser),
    };
    agents.push(receiver);
    await receiver.proc!.waitForLine((line) => line === `agent ${receiver.id} running`, 30_000);

    const sender = await startDaemon(await makeAgent(dirs, { cli: INSTALLED_CLI }), ['--server', server.url]);
    agents.push(sender);
    await expectFileArrives({ from: sender, to: receiver, url: server.url, cli: INSTALLED_CLI, dirs });
    const uid = Number((await run('id', ['-u', USER.name])).stdout);
    expect((await stat(join(receiver.home, 'downloads', 'payload.bin'))).uid).toBe(uid);
  }, 90_000);

  it('is removed by dpkg -r, leaving nothing behind', async () => {
    await Promise.all([server?.proc.stop(), ...agents.map((a) => a.proc?.stop())]);
    await run('dpkg', ['-r', 'mesh-agent']);
    expect(installed()).toBe(false);
    for (const path of ['/usr/bin/mesh-agent', '/usr/lib/mesh-agent', UNIT])
      await expect(stat(path), path).rejects.toThrow(/ENOENT/);
  }, 60_000);
});
