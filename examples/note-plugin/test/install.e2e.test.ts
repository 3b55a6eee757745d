import { execFileSync } from 'node:child_process';
import { cp, lstat, mkdir, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliInTty, TempDirs, unwrap } from '../../../packages/host/test/helpers/cli.js';

const NOTE_PLUGIN = resolve(import.meta.dirname, '..');
const HOST = resolve(import.meta.dirname, '../../../packages/host');
const INSTALLED = 'installed mesh-agent-plugin-note 1.0.0 (command: send-note)';

/**
 * A user's machine: its own HOME and XDG folders and nothing else of mesh-agent's, so the agent
 * home is the default $XDG_DATA_HOME/mesh-agent and plugins go where a user's would.
 */
async function userEnv(dirs: TempDirs) {
  const root = await dirs.make('mesh-user-');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env))
    if (key.startsWith('MESH_AGENT_') || key.startsWith('XDG_')) delete env[key];
  Object.assign(env, {
    HOME: root,
    XDG_DATA_HOME: join(root, 'data'),
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_STATE_HOME: join(root, 'state'),
  });
  return {
    env,
    root,
    agentHome: join(root, 'data', 'mesh-agent'),
    plugins: join(root, 'data', 'mesh-agent-plugins'),
  };
}

/** npm's and oclif's noise that `plugins install` used to print. */
const NOISE = /MODULE_NOT_FOUND|npm (warn|WARN|notice|error)|added \d+ package|ModuleLoadError/;

/** The installed command runs: its help, and its run() up to the host's "no server" error. */
async function expectSendNoteRuns(env: NodeJS.ProcessEnv): Promise<void> {
  const help = await runCli(['send-note', '--help'], env);
  expect(help.code, help.stderr).toBe(0);
  expect(help.stdout).toContain('Send a short note to another agent');
  expect(help.stderr).not.toMatch(NOISE);
  const sent = await runCli(['send-note', 'hi', '--to', 'agent-bob', '--json'], env);
  expect(sent.stderr).not.toMatch(NOISE);
  expect(JSON.parse(sent.stdout).error.code).toBe('no_server');
}

describe('mesh-agent plugins install, with a path on disk', () => {
  const dirs = new TempDirs();
  let tarball: string;

  beforeAll(async () => {
    const packed = await dirs.make('mesh-pack-');
    const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', packed], { cwd: NOTE_PLUGIN })
      .toString()
      .trim();
    tarball = join(packed, name);
  }, 60_000);
  afterAll(() => dirs.cleanup());

  it('installs a packed .tgz into the plugins folder, outside the agent home, saying only what it installed', async () => {
    const user = await userEnv(dirs);
    // The agent home exists (an identity), as on any machine that ran mesh-agent.
    expect((await runCli(['identity', '--json'], user.env)).code).toBe(0);

    const started = Date.now();
    const install = await runCliInTty(['plugins', 'install', tarball], user.env, { timeoutMs: 60_000 });
    expect(install.output).toBe(`${INSTALLED}\n`);
    expect(install.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);

    await expectSendNoteRuns(user.env);
    const home = await readdir(user.agentHome);
    expect(home).toContain('identity');
    for (const npmFile of ['node_modules', 'package.json', 'package-lock.json'])
      expect(home).not.toContain(npmFile);
    expect(await readdir(join(user.plugins, 'installed', 'node_modules'))).toContain(
      'mesh-agent-plugin-note',
    );
    // The host links sit above npm's root, where npm never prunes them.
    expect(await readlink(join(user.plugins, 'node_modules', '@mesh-agent', 'host'))).toBe(HOST);

    const list = await runCli(['plugins'], user.env);
    expect(list.stdout).toContain('mesh-agent-plugin-note 1.0.0');

    const uninstall = await runCli(['plugins', 'uninstall', 'mesh-agent-plugin-note'], user.env, {
      timeoutMs: 60_000,
    });
    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect(uninstall.stderr).not.toMatch(NOISE);
    expect((await runCli(['plugins'], user.env)).stdout).toContain('No plugins installed');
    const gone = await runCli(['send-note', '--help'], user.env);
    expect(gone.code).not.toBe(0);
    expect(unwrap(gone.stderr)).toMatch(/send-note is not a mesh-agent command/);
  }, 120_000);

  it('installs a copy of a folder given as ./path, which then runs without it', async () => {
    const user = await userEnv(dirs);
    const copyFrom = join(user.root, 'src', 'note-plugin');
    await cp(NOTE_PLUGIN, copyFrom, { recursive: true });
    const cwd = await mkdirp(join(user.root, 'work'));
    const path = `./${relative(cwd, copyFrom)}`;
    expect(path).toMatch(/^\.\/\.\.\//);

    const install = await runCli(['plugins', 'install', path], user.env, { cwd, timeoutMs: 60_000 });
    expect(install.stdout).toBe(`${INSTALLED}\n`);
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    const copy = join(user.plugins, 'installed', 'node_modules', 'mesh-agent-plugin-note');
    expect((await lstat(copy)).isSymbolicLink()).toBe(false);
    await rm(copyFrom, { recursive: true });
    await expectSendNoteRuns(user.env);

    const uninstall = await runCli(['plugins', 'uninstall', 'mesh-agent-plugin-note'], user.env, {
      timeoutMs: 60_000,
    });
    expect(uninstall.code, uninstall.stderr).toBe(0);
  }, 120_000);

  it('fails at once on a path that does not exist, saying what to give instead', async () => {
    const user = await userEnv(dirs);
    for (const missing of ['./missing-plugin.tgz', join(user.root, 'no-such-folder'), '../nope']) {
      const started = Date.now();
      const result = await runCli(['plugins', 'install', missing], user.env, { timeoutMs: 15_000 });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        new RegExp(`^error: cannot install ${escapeRegExp(missing)}: .* does not exist\\n`),
      );
      expect(result.stderr).toMatch(/\nhint: +give the path of a plugin folder .* or of a \.tgz file/);
      expect(result.stderr).not.toMatch(/github/i);
    }
    const json = await runCli(['plugins', 'install', './missing-plugin.tgz', '--json'], user.env);
    expect(JSON.parse(json.stdout).error.code).toBe('usage');
  }, 60_000);

  it('moves plugins an older version installed into the agent home, once, and they keep working', async () => {
    const user = await userEnv(dirs);
    // The old layout: oclif's data dir was the agent home, with the host linked among npm's packages.
    const oldEnv = { ...user.env, MESH_AGENT_DATA_DIR: user.agentHome };
    expect((await runCli(['plugins', 'install', tarball], oldEnv, { timeoutMs: 60_000 })).code).toBe(0);
    await rm(join(user.root, 'data', 'node_modules'), { recursive: true });
    await rm(join(user.agentHome, '.npmrc'));
    await mkdirp(join(user.agentHome, 'node_modules', '@mesh-agent'));
    await symlink(HOST, join(user.agentHome, 'node_modules', '@mesh-agent', 'host'));

    const first = await runCli(['send-note', '--help'], user.env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe(
      `mesh-agent: moved your plugins (mesh-agent-plugin-note) from ${user.agentHome} to ${user.plugins}, out of the agent home\n`,
    );
    expect(await readdir(user.agentHome)).not.toContain('node_modules');
    await expectSendNoteRuns(user.env);
    const again = await runCli(['plugins'], user.env);
    expect(again.stderr).toBe('');
    expect(again.stdout).toContain('mesh-agent-plugin-note 1.0.0');
  }, 120_000);
});

async function mkdirp(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
