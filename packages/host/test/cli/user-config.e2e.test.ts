import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_SIGNAL_URL } from '../../src/signaling/constants.js';
import { agentEnv, eventually, runCli, TempDirs, unwrap } from '../helpers/cli.js';
import { makeAgent, type Server, startDaemon, startServer } from '../helpers/mesh.js';

/** The parts of the user config file these tests write. */
interface UserConfig {
  signaling?: { url?: unknown; token?: string };
  quic?: { port?: number };
  nat?: { traversal?: boolean };
}

describe('config set / get / unset write the user config, and every command uses it', () => {
  const dirs = new TempDirs();
  let home: string;
  let env: NodeJS.ProcessEnv;
  let userFile: string;
  let server: Server;

  const cli = (...args: string[]) => runCli(args, env);
  const userConfig = async () => parseToml(await readFile(userFile, 'utf8')) as UserConfig;

  beforeAll(async () => {
    home = await dirs.make('mesh-user-config-');
    const xdg = join(home, 'xdg');
    env = agentEnv(home, { XDG_CONFIG_HOME: xdg });
    userFile = join(xdg, 'mesh-agent', 'config.toml');
    server = await startServer(dirs);
  });
  afterAll(async () => {
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('set creates config.toml under XDG_CONFIG_HOME with mode 0600, values typed by the schema', async () => {
    expect((await cli('config', 'set', 'quic.port', '7401')).code).toBe(0);
    expect((await cli('config', 'set', 'nat.traversal', 'false')).code).toBe(0);
    const list = await cli('config', 'set', 'signaling.url', '["ws://node-a:7300","ws://node-b:7300"]');
    expect(list.code, list.stderr).toBe(0);
    expect(await userConfig()).toEqual({
      quic: { port: 7401 },
      nat: { traversal: false },
      signaling: { url: ['ws://node-a:7300', 'ws://node-b:7300'] },
    });
    expect((await stat(userFile)).mode & 0o777).toBe(0o600);
    const shown = JSON.parse((await cli('config', '--json')).stdout);
    expect(shown.file).toBe(userFile);
    expect(shown.config.quic.port).toBe(7401);
  });

  it('a token is written but printed redacted, by set and by get', async () => {
    const secret = 'tok-0123456789-secret';
    const set = await cli('config', 'set', 'signaling.token', secret);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('signaling.token = "[redacted]"');
    expect(set.stdout + set.stderr).not.toContain(secret);
    expect((await userConfig()).signaling?.token).toBe(secret);
    const got = await cli('config', 'get', 'signaling.token', '--json');
    expect(JSON.parse(got.stdout)).toEqual({ path: 'signaling.token', value: '[redacted]' });
  });

  it('refuses an unknown path with the closest known one, and writes nothing', async () => {
    const before = await readFile(userFile, 'utf8');
    const typo = await cli('config', 'set', 'signaling.urll', LOCAL_SIGNAL_URL);
    expect(typo.code).toBe(2);
    expect(unwrap(typo.stderr)).toContain('unknown config path signaling.urll');
    expect(unwrap(typo.stderr)).toContain('Did you mean signaling.url?');
    const plugin = await cli('config', 'set', 'plugins.file-transfr.maxSize', '10');
    expect(plugin.code).toBe(2);
    expect(unwrap(plugin.stderr)).toContain('Did you mean plugins.file-transfer?');
    expect(await readFile(userFile, 'utf8')).toBe(before);
  });

  it('refuses a value of the wrong type or out of range (plugin schemas too), and writes nothing', async () => {
    const before = await readFile(userFile, 'utf8');
    const word = await cli('config', 'set', 'quic.port', 'seven');
    expect(word.code).toBe(2);
    expect(unwrap(word.stderr)).toContain('quic.port takes an integer, got "seven"');
    const range = await cli('config', 'set', 'quic.port', '70000');
    expect(range.code).toBe(2);
    expect(unwrap(range.stderr)).toMatch(/not written.*\/quic\/port: must be <= 65535 \[maximum\]/s);
    const pluginRange = await cli('config', 'set', 'plugins.notifications-gotify.defaultPriority', '11');
    expect(pluginRange.code).toBe(2);
    expect(unwrap(pluginRange.stderr)).toContain('/plugins/notifications-gotify/defaultPriority');
    const badJson = await cli('config', 'set', 'nat.stunServers', '["a:1",');
    expect(badJson.code).toBe(2);
    expect(unwrap(badJson.stderr)).toContain('looks like JSON but does not parse');
    expect(await readFile(userFile, 'utf8')).toBe(before);
  });

  it('unset removes one value, keeps the others, and says when there was nothing to remove', async () => {
    const removed = await cli('config', 'unset', 'nat.traversal');
    expect(removed.code, removed.stderr).toBe(0);
    expect(await userConfig()).not.toHaveProperty('nat');
    expect((await userConfig()).quic).toEqual({ port: 7401 });
    const again = await cli('config', 'unset', 'nat.traversal');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nat.traversal was not set');
    const unsetValue = await cli('config', 'get', 'agent.id');
    expect(unsetValue.code).toBe(1);
  });

  it('a plugin turned off stays reachable by config: its commands say how to turn it back on', async () => {
    expect((await cli('config', 'set', 'plugins.terminal.enabled', 'false')).code).toBe(0);
    const turnedOff =
      'error: share-terminal belongs to the terminal plugin, which the config turns off\n' +
      'hint:  turn it on with: mesh-agent config set plugins.terminal.enabled true\n';
    // Running it, and asking for its help either way.
    for (const args of [['share-terminal'], ['share-terminal', '--help'], ['help', 'share-terminal']]) {
      const gone = await cli(...args);
      expect(gone.code, args.join(' ')).toBe(127);
      expect(gone.stderr).toBe(turnedOff);
    }
    const asJson = await cli('share-terminal', '--json');
    expect(JSON.parse(asJson.stdout)).toMatchObject({ error: { code: 'plugin_disabled' } });
    const got = await cli('config', 'get', 'plugins.terminal.enabled');
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout.trim()).toBe('plugins.terminal.enabled = false');
    const on = await cli('config', 'set', 'plugins.terminal.enabled', 'true');
    expect(on.code, on.stderr).toBe(0);
    expect((await cli('share-terminal', '--help')).code).toBe(0);
    expect((await cli('config', 'unset', 'plugins.terminal')).code).toBe(0);
  });

  it('keeps writing a JSON user config as JSON', async () => {
    const jsonHome = await dirs.make('mesh-user-json-');
    const jsonEnv = agentEnv(jsonHome, { XDG_CONFIG_HOME: jsonHome });
    const file = join(jsonHome, 'mesh-agent', 'config.json');
    await mkdir(dirname(file));
    await writeFile(file, JSON.stringify({ signaling: { room: 'team' } }));
    const set = await runCli(['config', 'set', 'log.level', 'warn'], jsonEnv);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      signaling: { room: 'team' },
      log: { level: 'warn' },
    });
    expect(existsSync(join(jsonHome, 'mesh-agent', 'config.toml'))).toBe(false);
  });

  it('keeps the values of a hand-written TOML file and says its comments were dropped', async () => {
    const tomlHome = await dirs.make('mesh-user-toml-');
    const file = join(tomlHome, 'mesh-agent', 'config.toml');
    await mkdir(dirname(file));
    await writeFile(file, '# my agent\n[signaling]\nroom = "team" # the team room\n');
    const set = await runCli(
      ['config', 'set', 'log.level', 'warn'],
      agentEnv(tomlHome, { XDG_CONFIG_HOME: tomlHome }),
    );
    expect(set.code, set.stderr).toBe(0);
    expect(unwrap(set.stderr)).toContain(`the comments in ${file} were not kept`);
    expect(unwrap(set.stderr)).toContain(`the file as it was is in ${file}.bak`);
    expect(await readFile(`${file}.bak`, 'utf8')).toBe(
      '# my agent\n[signaling]\nroom = "team" # the team room\n',
    );
    expect(parseToml(await readFile(file, 'utf8'))).toEqual({
      signaling: { room: 'team' },
      log: { level: 'warn' },
    });
  });

  it('with --config or MESH_AGENT_CONFIG, set and unset edit that file (created if missing), not the user config', async () => {
    const before = await readFile(userFile, 'utf8');
    const dir = await dirs.make('mesh-named-config-');
    const named = join(dir, 'team.toml');
    const set = await cli('config', 'set', '--config', named, 'signaling.room', 'team', '--json');
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ file: named, path: 'signaling.room', value: 'team' });
    expect(set.stderr).toBe('');
    expect(parseToml(await readFile(named, 'utf8'))).toEqual({ signaling: { room: 'team' } });
    expect((await stat(named)).mode & 0o777).toBe(0o600);

    const fromEnv = { ...env, MESH_AGENT_CONFIG: join(dir, 'other.json') };
    expect((await runCli(['config', 'set', 'log.level', 'error'], fromEnv)).code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'other.json'), 'utf8'))).toEqual({ log: { level: 'error' } });
    const unset = await runCli(['config', 'unset', 'log.level'], fromEnv);
    expect(unset.code, unset.stderr).toBe(0);
    expect(unset.stdout).toContain(`removed log.level from ${join(dir, 'other.json')}`);
    // Every command reads the file it names.
    const got = await cli('config', 'get', '--config', named, 'signaling.room');
    expect(got.stdout.trim()).toBe('signaling.room = "team"');
    expect(await readFile(userFile, 'utf8')).toBe(before);

    const notAFile = await cli('config', 'set', '--config', dir, 'signaling.room', 'team');
    expect(notAFile.code).toBe(2);
    expect(unwrap(notAFile.stderr)).toContain(`${dir} is a directory, not a config file`);
  });

  it('refuses to rewrite a YAML user config, and leaves it as it was', async () => {
    const yamlHome = await dirs.make('mesh-user-yaml-');
    const file = join(yamlHome, 'mesh-agent', 'config.yaml');
    await mkdir(dirname(file));
    await writeFile(file, '# mine\nsignaling:\n  room: team\n');
    const set = await runCli(
      ['config', 'set', 'log.level', 'warn'],
      agentEnv(yamlHome, { XDG_CONFIG_HOME: yamlHome }),
    );
    expect(set.code).toBe(2);
    expect(unwrap(set.stderr)).toContain('config set/unset rewrite only TOML and JSON');
    expect(await readFile(file, 'utf8')).toBe('# mine\nsignaling:\n  room: team\n');
  });

  it('without any server configured, peers names every way to configure one', async () => {
    const agent = await makeAgent(dirs, { env: { XDG_CONFIG_HOME: join(home, 'no-config') } });
    const peers = await runCli(['peers'], agent.env);
    expect(peers.code).toBe(2);
    expect(unwrap(peers.stderr)).toContain('mesh-agent config set signaling.url');
    expect(unwrap(peers.stderr)).toContain('MESH_AGENT_SERVER');
  });

  it('with only the user config naming the server, a daemon joins and peers lists it, no --server anywhere', async () => {
    expect((await cli('config', 'unset', 'signaling.token')).code).toBe(0);
    expect((await cli('config', 'set', 'signaling.url', server.url)).code).toBe(0);
    const onlyConfig = { env: { XDG_CONFIG_HOME: join(home, 'xdg') } };
    const [daemon, viewer] = await Promise.all([makeAgent(dirs, onlyConfig), makeAgent(dirs, onlyConfig)]);
    await startDaemon(daemon, []);
    try {
      const ids = await eventually(async () => {
        const peers = await runCli(['peers', '--json'], viewer.env);
        expect(peers.code, peers.stderr).toBe(0);
        const { members } = JSON.parse(peers.stdout) as { members: Array<{ agent_id: string }> };
        const found = members.map((m) => m.agent_id);
        return found.includes(daemon.id) && found;
      });
      expect(ids).toContain(viewer.id);
    } finally {
      await daemon.proc?.stop();
    }
  });

  it('one default port: the server listens on 7300 unless told otherwise, as the --server help says', async () => {
    const serverHelp = await cli('server', '--help');
    expect(serverHelp.stdout).toMatch(/-p, --port=<value>\s+\[default: 7300\]/);
    const peersHelp = await cli('peers', '--help');
    expect(peersHelp.stdout).toContain(`--server=${LOCAL_SIGNAL_URL}`);
    expect(LOCAL_SIGNAL_URL).toBe('ws://127.0.0.1:7300');
  });
});
