import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/errors.js';
import { npmFailure } from '../../src/cli/plugins-npm.js';
import { defaultPluginsDataDir } from '../../src/cli/user-plugins.js';
import { isPath, pluginOnDisk } from '../../src/commands/plugins/install.js';

describe('plugins install arguments', () => {
  it('reads absolute, ./, ../, ~/, file: and tarball arguments as paths, the rest as npm or GitHub', () => {
    for (const path of [
      '/tmp/x.tgz',
      './my-plugin',
      '../my-plugin',
      '.',
      '~/src/p',
      'file:x',
      'dist/p-1.0.0.tgz',
    ])
      expect(isPath(path), path).toBe(true);
    for (const other of [
      'mesh-agent-plugin-note',
      '@scope/plugin',
      'user/repo',
      'https://github.com/u/r',
      'p@1.2.0',
    ])
      expect(isPath(other), other).toBe(false);
  });

  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mesh-plugin-path-'));
    await mkdir(join(dir, 'plugin'));
    await writeFile(join(dir, 'plugin', 'package.json'), '{}');
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'p.tgz'), '');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('turns a path into an absolute file: spec, resolved against the working directory', async () => {
    expect(await pluginOnDisk('./plugin', dir)).toEqual({ type: 'repo', url: `file:${join(dir, 'plugin')}` });
    expect(await pluginOnDisk('file:p.tgz', dir)).toEqual({
      type: 'repo',
      url: `file:${join(dir, 'p.tgz')}`,
    });
    expect(await pluginOnDisk('mesh-agent-plugin-note', dir)).toBeUndefined();
  });

  it('refuses a missing path and a folder without package.json as bad input', async () => {
    await expect(pluginOnDisk('./missing.tgz', dir)).rejects.toThrow(UsageError);
    await expect(pluginOnDisk('./missing.tgz', dir)).rejects.toThrow(/missing\.tgz does not exist/);
    await expect(pluginOnDisk('./empty', dir)).rejects.toThrow(/has no package\.json/);
  });
});

describe('npm failures', () => {
  it("keep npm's own words, without its code and log-file lines", () => {
    const error = npmFailure(
      'install',
      [
        'npm error code E404',
        'npm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found',
        'npm error A complete log of this run can be found in: /x.log',
      ].join('\n'),
      1,
    );
    expect(error.code).toBe('npm_failed');
    expect(error.message).toBe(
      'npm install failed: 404 Not Found - GET https://registry.npmjs.org/nope - Not found',
    );
    expect(npmFailure('install', '', 1).message).toBe('npm install failed (exit code 1)');
  });

  it("keep a system error's words without the code npm puts before each line", () => {
    const stderr = [
      'npm error code ENOENT',
      'npm error syscall open',
      'npm error path /x/p.tgz',
      'npm error errno -2',
      "npm error enoent ENOENT: no such file or directory, open '/x/p.tgz'",
      'npm error enoent This is related to npm not being able to find a file.',
      'npm error enoent',
      'npm verbose exit -2',
    ].join('\n');
    expect(npmFailure('install', stderr, 254).message).toBe(
      "npm install failed: ENOENT: no such file or directory, open '/x/p.tgz'; " +
        'This is related to npm not being able to find a file.',
    );
  });
});

describe('the plugins folder', () => {
  it('is beside the agent home under XDG_DATA_HOME, not in it', () => {
    expect(defaultPluginsDataDir({ XDG_DATA_HOME: '/d', HOME: '/h' })).toBe(
      '/d/mesh-agent-plugins/installed',
    );
    expect(defaultPluginsDataDir({ HOME: '/h' })).toBe('/h/.local/share/mesh-agent-plugins/installed');
  });
});
