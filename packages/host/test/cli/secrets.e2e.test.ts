import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, runCli, TempDirs } from '../helpers/cli.js';
import { type Server, startServer } from '../helpers/mesh.js';

/** Every secret below carries this marker, so one check finds any that leaked. */
const LEAK = /s3cr3t/;

describe('secrets inside URLs and arrays stay out of config output and logs', () => {
  const dirs = new TempDirs();
  let server: Server;
  let home: string;

  beforeAll(async () => {
    server = await startServer(dirs);
    home = await dirs.make('mesh-secrets-');
  }, 30_000);
  afterAll(async () => {
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('mesh-agent config redacts URL userinfo, secret query parameters and arrays of secrets', async () => {
    const config = {
      signaling: { url: 'wss://alice:pw-s3cr3t@signal.example.org/mesh?token=qs-s3cr3t&room=team' },
      plugins: {
        'notifications-gotify': { url: 'https://push.example.org/?key=gotify-s3cr3t' },
        // A section of a plugin that is not installed is printed as it stands.
        mirror: {
          tokens: ['arr-s3cr3t-1', 'arr-s3cr3t-2'],
          upstreams: ['https://up-s3cr3t@a.example.org/', 'https://b.example.org/?access_token=q-s3cr3t'],
        },
      },
    };
    const file = join(home, 'secrets.json');
    await writeFile(file, JSON.stringify(config));
    for (const json of [['--json'], []]) {
      const result = await runCli(['config', '--config', file, ...json], agentEnv(home));
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).not.toMatch(LEAK);
      expect(result.stdout).toContain('signal.example.org/mesh?token=[redacted]&room=team');
      expect(result.stdout).toContain('https://b.example.org/?access_token=[redacted]');
    }
    const shown = JSON.parse((await runCli(['config', '--config', file, '--json'], agentEnv(home))).stdout);
    expect(shown.config.plugins.mirror.tokens).toEqual(['[redacted]', '[redacted]']);
    expect(shown.config.signaling.url).toBe(
      'wss://[redacted]:[redacted]@signal.example.org/mesh?token=[redacted]&room=team',
    );
  });

  it('logs the signaling URL without its credentials', async () => {
    const url = new URL(server.url);
    url.username = 'alice';
    url.password = 'pw-s3cr3t';
    url.searchParams.set('token', 'qs-s3cr3t');
    const result = await runCli(
      ['peers', '--server', url.href, '--log-level', 'debug', '--json'],
      agentEnv(await dirs.make('mesh-secrets-')),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`${url.host}/?token=[redacted]`);
    expect(result.stderr).not.toMatch(LEAK);
  });
});
