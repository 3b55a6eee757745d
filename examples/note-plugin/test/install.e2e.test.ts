import { execFileSync } from 'node:child_process';
import { cp, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  runCli,
  runCliInTty,
  TempDirs,
  unwrap,
  userMachineEnv as userEnv,
} from '../../../packages/host/test/helpers/cli.js';

const NOTE_PLUGIN = resolve(import.meta.dirname, '..');
const HOST = resolve(import.meta.dirname, '../../../packages/host');
const ECHO_PLUGIN = join(HOST, 'test/fixtures/echo-plugin');
const INSTALLED = 'installed mesh-agent-plugin-note 1.0.0 (command: send-note)';

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

describe('mesh-agent plugins uninstall and update, in the words of install', () => {
  const dirs = new TempDirs();
  afterAll(() => dirs.cleanup());

  /** A copy of the plugin at `version`, installed from its folder. */
  async function installCopy(user: Awaited<ReturnType<typeof userEnv>>, version: string) {
    const folder = join(user.root, 'src', 'note-plugin');
    await cp(NOTE_PLUGIN, folder, { recursive: true });
    await setVersion(folder, version);
    const install = await runCli(['plugins', 'install', folder], user.env, { timeoutMs: 60_000 });
    expect(install.code, install.stderr).toBe(0);
    return folder;
  }

  it('update says one line per plugin it updated, or that all are up to date, and re-reads a path', async () => {
    const user = await userEnv(dirs);
    const none = await runCli(['plugins', 'update'], user.env);
    expect(none).toMatchObject({ code: 0, stderr: '' });
    expect(none.stdout).toBe('no plugins to update: none was installed with `mesh-agent plugins install`\n');

    const folder = await installCopy(user, '1.0.0');
    const same = await runCli(['plugins', 'update'], user.env, { timeoutMs: 60_000 });
    expect(same).toEqual({ code: 0, stdout: 'all plugins are up to date\n', stderr: '' });

    await setVersion(folder, '1.0.1');
    const newer = await runCli(['plugins', 'update'], user.env, { timeoutMs: 60_000 });
    expect(newer).toEqual({ code: 0, stdout: 'updated mesh-agent-plugin-note 1.0.0 -> 1.0.1\n', stderr: '' });
    expect((await runCli(['plugins'], user.env)).stdout).toContain('mesh-agent-plugin-note 1.0.1');
    const json = await runCli(['plugins', 'update', '--json'], user.env, { timeoutMs: 60_000 });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      updated: [],
      upToDate: [{ name: 'mesh-agent-plugin-note', version: '1.0.1' }],
    });

    // --verbose shows npm at work, on stderr: stdout is still the one line.
    const verbose = await runCli(['plugins', 'update', '--verbose'], user.env, { timeoutMs: 60_000 });
    expect(verbose.stdout).toBe('all plugins are up to date\n');
    expect(verbose.stderr).toMatch(/npm install file:/);

    // Installed over a newer version, it names the version it installed, not the one it replaced.
    await setVersion(folder, '1.0.0');
    const older = await runCli(['plugins', 'install', folder], user.env, { timeoutMs: 60_000 });
    expect(older).toEqual({ code: 0, stdout: `${INSTALLED}\n`, stderr: '' });

    await rm(folder, { recursive: true });
    const gone = await runCli(['plugins', 'update'], user.env);
    expect(gone.code).toBe(1);
    expect(gone.stdout).toBe('');
    expect(gone.stderr).toBe(
      `error: cannot update mesh-agent-plugin-note: it was installed from ${folder}, which no longer exists\n` +
        'hint:  install it again from where it is now (mesh-agent plugins install <path>), or remove it ' +
        '(mesh-agent plugins uninstall mesh-agent-plugin-note)\n',
    );
  }, 180_000);

  it('uninstall says what it removed, and a name that is not installed is bad input naming `mesh-agent plugins`', async () => {
    const user = await userEnv(dirs);
    await installCopy(user, '1.0.0');

    const unknown = await runCli(['plugins', 'uninstall', 'mesh-agent-plugin-nope'], user.env);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe(
      'error: mesh-agent-plugin-nope is not an installed plugin\n' +
        'hint:  `mesh-agent plugins` lists the installed plugins\n',
    );
    const unknownJson = await runCli(['plugins', 'uninstall', 'mesh-agent-plugin-nope', '--json'], user.env);
    expect(unknownJson.code).toBe(2);
    expect(JSON.parse(unknownJson.stdout).error).toMatchObject({
      code: 'not_installed',
      message: 'mesh-agent-plugin-nope is not an installed plugin',
    });
    // Nothing is removed when one of the names is wrong.
    const mixed = await runCli(['plugins', 'uninstall', 'mesh-agent-plugin-note', 'nope'], user.env);
    expect(mixed.code).toBe(2);
    expect((await runCli(['plugins'], user.env)).stdout).toContain('mesh-agent-plugin-note 1.0.0');
    const core = await runCli(['plugins', 'uninstall', '@mesh-agent/plugin-terminal'], user.env);
    expect(core.code).toBe(2);
    expect(core.stderr).toMatch(
      /^error: cannot uninstall @mesh-agent\/plugin-terminal: it is part of mesh-agent/,
    );
    expect(core.stderr).toMatch(
      /\nhint: +turn it off instead: mesh-agent config set plugins\.terminal\.enabled false\n$/,
    );

    const uninstall = await runCli(['plugins', 'uninstall', 'mesh-agent-plugin-note'], user.env, {
      timeoutMs: 60_000,
    });
    expect(uninstall).toEqual({ code: 0, stdout: 'uninstalled mesh-agent-plugin-note 1.0.0\n', stderr: '' });
    expect((await runCli(['plugins'], user.env)).stdout).toContain('No plugins installed');

    await rm(join(user.root, 'src'), { recursive: true });
    await installCopy(user, '1.0.0');
    const json = await runCli(['plugins', 'remove', 'mesh-agent-plugin-note', '--json'], user.env, {
      timeoutMs: 60_000,
    });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      uninstalled: [{ name: 'mesh-agent-plugin-note', version: '1.0.0', type: 'user' }],
    });

    // reset removes every plugin in the same words (oclif's listed them, with check marks and npm's output).
    await rm(join(user.root, 'src'), { recursive: true });
    await installCopy(user, '1.0.0');
    const reset = await runCli(['plugins', 'reset'], user.env, { timeoutMs: 60_000 });
    expect(reset).toEqual({ code: 0, stdout: 'uninstalled mesh-agent-plugin-note 1.0.0\n', stderr: '' });
    expect(await runCli(['plugins', 'reset'], user.env)).toEqual({
      code: 0,
      stdout: 'no plugins to remove\n',
      stderr: '',
    });
  }, 180_000);

  it('reset --reinstall checks every source first, and a plugin that fails does not stop the others', async () => {
    const user = await userEnv(dirs);
    const note = await installCopy(user, '1.0.0');
    const echo = join(user.root, 'src', 'echo-plugin');
    await cp(ECHO_PLUGIN, echo, { recursive: true });
    expect((await runCli(['plugins', 'link', echo, '--no-install'], user.env)).code).toBe(0);

    // A linked folder that is gone: nothing is removed, and the error says which and what to do.
    await rm(echo, { recursive: true });
    // Every command says once, in one line, that the linked plugin cannot be loaded (oclif's
    // warning was a dozen lines of its loader's details).
    const gone =
      `warning: a plugin could not be loaded: ENOENT: no such file or directory, open '${echo}/package.json'\n` +
      'hint:  `mesh-agent plugins` lists the plugins; `mesh-agent plugins uninstall <name>` removes one\n';
    expect(await runCli(['plugins'], user.env)).toEqual({
      code: 0,
      stdout: 'mesh-agent-plugin-note 1.0.0\n',
      stderr: gone,
    });
    const missing = await runCli(['plugins', 'reset', '--reinstall'], user.env, { timeoutMs: 60_000 });
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr:
        gone +
        `error: cannot reinstall mesh-agent-plugin-echo: it was linked from ${echo}, which no longer exists\n` +
        'hint:  link it again from where it is now (mesh-agent plugins link <folder>), or remove it (mesh-agent plugins uninstall mesh-agent-plugin-echo)\n',
    });
    // Both still on the list (`plugins` shows only what loads, so read the list itself).
    const list = JSON.parse(await readFile(join(user.plugins, 'installed', 'package.json'), 'utf8'));
    expect(list.oclif.plugins.map((p: { name: string }) => p.name)).toEqual([
      'mesh-agent-plugin-note',
      'mesh-agent-plugin-echo',
    ]);

    // The note plugin's source breaks (npm cannot install it again): it is named, the echo plugin
    // (listed after it) is still linked again, and the exit code says not everything worked.
    await cp(ECHO_PLUGIN, echo, { recursive: true });
    await writeFile(join(note, 'package.json'), '{ not json');
    const partial = await runCli(['plugins', 'reset', '--reinstall', '--json'], user.env, {
      timeoutMs: 60_000,
    });
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/^warning: mesh-agent-plugin-note: /m);
    const out = JSON.parse(partial.stdout);
    expect(out.error).toMatchObject({ code: 'plugins_reset_failed' });
    expect(out.error.message).toMatch(/^mesh-agent-plugin-note: not reset/);
    expect(out.reinstalled).toEqual([{ name: 'mesh-agent-plugin-echo', version: '1.0.0', type: 'link' }]);
    expect(out.failed).toEqual([{ name: 'mesh-agent-plugin-note', message: expect.any(String) }]);
    expect((await runCli(['plugins'], user.env)).stdout).toContain('mesh-agent-plugin-echo');
  }, 180_000);

  it('link says what it linked, and a folder that is not a plugin in words', async () => {
    const user = await userEnv(dirs);
    const missing = join(user.root, 'no-such-plugin');
    const notThere = await runCli(['plugins', 'link', missing], user.env);
    expect(notThere).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: cannot link ${missing}: ${missing} is not a folder\nhint:  give the folder of a plugin (with its package.json)\n`,
    });
    const link = await runCli(['plugins', 'link', ECHO_PLUGIN, '--no-install'], user.env);
    expect(link).toEqual({
      code: 0,
      stdout: `linked mesh-agent-plugin-echo 1.0.0 (${ECHO_PLUGIN})\n`,
      stderr: '',
    });
    const unlink = await runCli(['plugins', 'unlink', 'mesh-agent-plugin-echo'], user.env);
    expect(unlink).toEqual({ code: 0, stdout: 'unlinked mesh-agent-plugin-echo 1.0.0\n', stderr: '' });
  });

  it("link gives a folder outside any checkout the CLI's own host and oclif, and its command runs", async () => {
    const user = await userEnv(dirs);
    const folder = join(user.root, 'src', 'echo-plugin');
    await cp(ECHO_PLUGIN, folder, { recursive: true });
    const link = await runCli(['plugins', 'link', folder, '--no-install'], user.env);
    const host = join(folder, 'node_modules/@mesh-agent/host');
    const oclif = join(folder, 'node_modules/@oclif/core');
    expect(link).toEqual({
      code: 0,
      stdout: `linked mesh-agent-plugin-echo 1.0.0 (${folder})\n`,
      stderr:
        `mesh-agent: linked ${host} to this CLI's copy (the folder had none)\n` +
        `mesh-agent: linked ${oclif} to this CLI's copy (the folder had none)\n`,
    });
    expect(await readlink(host)).toBe(HOST);
    const help = await runCli(['echo', '--help'], user.env);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Send text to a peer over an echo stream');
    expect(help.stderr).not.toMatch(NOISE);

    // Linked again: the folder has them now, so nothing more is made.
    expect((await runCli(['plugins', 'unlink', 'mesh-agent-plugin-echo'], user.env)).code).toBe(0);
    const again = await runCli(['plugins', 'link', folder, '--no-install', '--json'], user.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe('');
    expect(JSON.parse(again.stdout)).toEqual({
      linked: { name: 'mesh-agent-plugin-echo', version: '1.0.0', root: folder },
      provided: [],
    });
  });

  it('help says what uninstall and update print and do', async () => {
    const user = await userEnv(dirs);
    const topic = await runCli(['plugins', '--help'], user.env);
    expect(topic.stdout).toMatch(/plugins uninstall +Remove installed or linked plugins/);
    expect(topic.stdout).toMatch(/plugins update +Update the plugins installed with `plugins install`/);
    const help = await runCli(['plugins', 'uninstall', '--help'], user.env);
    expect(help.code).toBe(0);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/`mesh-agent plugins` lists/);
    expect(help.stdout).toMatch(/--json/);
  });
});

async function setVersion(folder: string, version: string): Promise<void> {
  const path = join(folder, 'package.json');
  const pjson = JSON.parse(await readFile(path, 'utf8'));
  await writeFile(path, JSON.stringify({ ...pjson, version }, null, 2));
}

async function mkdirp(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
