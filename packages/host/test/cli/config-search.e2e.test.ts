import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, runCli, TempDirs, unwrap } from '../helpers/cli.js';

/** A JS config that leaves a marker file behind when it runs, and names the room it sets. */
function codeConfig(marker: string, room: string): string {
  return `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default { signaling: { room: ${JSON.stringify(room)} } };\n`;
}

describe('the config search loads data, never code', () => {
  const dirs = new TempDirs();
  let home: string;
  let env: NodeJS.ProcessEnv;
  /** A folder as a peer could have sent it, inside the downloads. */
  let received: string;

  beforeAll(async () => {
    home = await dirs.make('mesh-config-search-');
    env = agentEnv(home, { XDG_CONFIG_HOME: join(home, '.config') });
    received = join(home, 'downloads', 'gift');
    await mkdir(join(received, '.config'), { recursive: true });
  });
  afterAll(() => dirs.cleanup());

  it('does not run a mesh-agent.config.mjs (nor cosmiconfig meta configs) in the working directory, and says so', async () => {
    const markers = ['config', 'rc', 'meta'].map((name) => join(home, `ran-${name}`));
    await writeFile(join(received, 'mesh-agent.config.mjs'), codeConfig(markers[0] as string, 'evil'));
    await writeFile(join(received, '.mesh-agentrc.js'), codeConfig(markers[1] as string, 'evil'));
    await writeFile(join(received, '.config', 'config.mjs'), codeConfig(markers[2] as string, 'evil'));
    const result = await runCli(['config', '--json'], env, { cwd: received });
    expect(result.code, result.stderr).toBe(0);
    for (const marker of markers) expect(existsSync(marker)).toBe(false);
    const shown = JSON.parse(result.stdout);
    expect(shown.file).toBe('(defaults)');
    expect(shown.config.signaling.room).not.toBe('evil');
    const text = unwrap(result.stderr);
    expect(text).toContain(`ignored ${join(received, 'mesh-agent.config.mjs')}`);
    expect(text).toContain(`ignored ${join(received, '.mesh-agentrc.js')}`);
    expect(text).toMatch(/loaded only from --config/);
  });

  it('still finds a data config there, and still ignores the code next to it', async () => {
    await writeFile(join(received, 'mesh-agent.config.yaml'), 'signaling:\n  room: from-yaml\n');
    const result = await runCli(['config', '--json'], env, { cwd: received });
    expect(result.code, result.stderr).toBe(0);
    const shown = JSON.parse(result.stdout);
    expect(shown.file).toBe(join(received, 'mesh-agent.config.yaml'));
    expect(shown.config.signaling.room).toBe('from-yaml');
    expect(existsSync(join(home, 'ran-config'))).toBe(false);
    expect(unwrap(result.stderr)).toContain('ignored');
  });

  it('loads a JS config named by --config, and one in the user config directory', async () => {
    const named = join(home, 'mine.mjs');
    await writeFile(named, codeConfig(join(home, 'ran-named'), 'named'));
    const byFlag = await runCli(['config', '--json', '--config', named], env, { cwd: home });
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(JSON.parse(byFlag.stdout).config.signaling.room).toBe('named');
    expect(existsSync(join(home, 'ran-named'))).toBe(true);

    const userDir = join(home, '.config', 'mesh-agent');
    await mkdir(userDir, { recursive: true });
    await writeFile(join(userDir, 'config.mjs'), codeConfig(join(home, 'ran-user'), 'user'));
    const fromUserDir = await runCli(['config', '--json'], env, { cwd: home });
    expect(fromUserDir.code, fromUserDir.stderr).toBe(0);
    expect(JSON.parse(fromUserDir.stdout).file).toBe(join(userDir, 'config.mjs'));
    expect(JSON.parse(fromUserDir.stdout).config.signaling.room).toBe('user');
    expect(existsSync(join(home, 'ran-user'))).toBe(true);
  });

  it('names the file it found when that file cannot be parsed, not the directory the command ran in', async () => {
    const project = join(home, 'proj');
    await mkdir(join(project, 'sub'), { recursive: true });
    const bad = join(project, 'mesh-agent.config.toml');
    await writeFile(bad, 'room = = "x"\n');
    const result = await runCli(['config'], env, { cwd: join(project, 'sub') });
    expect(result.code).toBe(2);
    expect(unwrap(result.stderr)).toContain(`(${bad})`);
    expect(unwrap(result.stderr)).toContain('cannot be parsed');
  });
});
