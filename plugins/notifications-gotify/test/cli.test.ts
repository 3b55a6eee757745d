import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, BIN, type CliResult, runCli, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import {
  APP_TOKEN,
  closedPort,
  type FakeGotify,
  FORBIDDEN_TOKEN,
  startFakeGotify,
} from './helpers/fake-gotify.js';

// Needs the built CLI: `npx tsc -b plugins/notifications-gotify/tsconfig.json` (+ its oclif manifest).
describe('mesh-agent notify', () => {
  const dirs = new TempDirs();
  let gotify: FakeGotify;
  let home: string;
  let configFile: string;

  beforeAll(async () => {
    gotify = await startFakeGotify();
    home = await dirs.make('gotify-cli-');
    configFile = join(home, 'mesh-agent.config.json');
  });
  afterEach(() => {
    expect(gotify.violations).toEqual([]);
    gotify.script.length = 0;
  });
  afterAll(async () => {
    await gotify.close();
    await dirs.cleanup();
  });

  async function notify(
    args: string[],
    section: Record<string, unknown> = { url: gotify.url },
    env: NodeJS.ProcessEnv = {},
  ): Promise<CliResult> {
    await writeFile(
      configFile,
      JSON.stringify({ plugins: { 'notifications-gotify': { retry: { initialDelayMs: 20 }, ...section } } }),
    );
    // Wide columns: oclif would wrap the error message at 80 characters.
    return runCli(
      ['notify', ...args, '--config', configFile],
      agentEnv(home, { OCLIF_COLUMNS: '1000', ...env }),
    );
  }

  it('sends title, priority, markdown and click URL and prints the server answer with --json', async () => {
    const result = await notify([
      '**Backup** done',
      '--title',
      'Backup',
      '--priority',
      '8',
      '--markdown',
      '--click-url',
      'https://ci.example/42',
      '--token',
      APP_TOKEN,
      '--json',
    ]);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    const last = gotify.received.at(-1);
    expect(last?.body).toEqual({
      message: '**Backup** done',
      title: 'Backup',
      priority: 8,
      extras: {
        'client::display': { contentType: 'text/markdown' },
        'client::notification': { click: { url: 'https://ci.example/42' } },
      },
    });
    expect(last?.auth).toBe('header');
    expect(JSON.parse(result.stdout)).toEqual(last?.answer);
  });

  it('takes the token from GOTIFY_TOKEN and the default priority from the config', async () => {
    const result = await notify(
      ['hello'],
      { url: gotify.url, defaultPriority: 2 },
      { GOTIFY_TOKEN: APP_TOKEN },
    );
    expect(result.code).toBe(0);
    const last = gotify.received.at(-1);
    expect(last?.body).toEqual({ message: 'hello', priority: 2 });
    expect(result.stdout).toContain(`sent message ${last?.answer.id}`);
  });

  it('takes the token from the config token file', async () => {
    const tokenFile = join(home, 'gotify.token');
    await writeFile(tokenFile, `${APP_TOKEN}\n`);
    const result = await notify(['from file'], { url: gotify.url, tokenFile });
    expect(result.code).toBe(0);
    expect(gotify.received.at(-1)?.body.message).toBe('from file');
  });

  it('takes the token from --token-file, off the command line', async () => {
    const tokenFile = join(home, 'flag.token');
    await writeFile(tokenFile, `${APP_TOKEN}\n`);
    const result = await notify(['from flag file', '--token-file', tokenFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(gotify.received.at(-1)?.body.message).toBe('from flag file');
  });

  it('reads the message from stdin with -', async () => {
    await writeFile(configFile, JSON.stringify({ plugins: { 'notifications-gotify': { url: gotify.url } } }));
    const result = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [BIN, 'notify', '-', '--token', APP_TOKEN, '--config', configFile],
        {
          env: agentEnv(home),
          cwd: home,
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end('line one\nline two\n');
    });
    expect(result.code).toBe(0);
    expect(gotify.received.at(-1)?.body.message).toBe('line one\nline two');
  });

  const failures: Array<{
    name: string;
    args: string[];
    section?: Record<string, unknown>;
    setup?: () => void;
    code: number;
    message: RegExp;
    /** What the `hint:` line says to do. */
    hint?: RegExp;
    requests?: number;
  }> = [
    {
      name: 'no URL configured',
      args: ['x', '--token', APP_TOKEN],
      section: {},
      code: 2,
      message: /no Gotify server URL: set plugins\.notifications-gotify\.url in the config or pass --url/,
      hint: /mesh-agent config set plugins\.notifications-gotify\.url https:/,
      requests: 0,
    },
    {
      name: 'no token',
      args: ['x'],
      code: 2,
      message: /no Gotify application token.*GOTIFY_TOKEN.*--token/s,
      requests: 0,
    },
    {
      name: 'an invalid URL',
      args: ['x', '--token', APP_TOKEN, '--url', 'ftp://push.example'],
      code: 2,
      message: /invalid Gotify URL "ftp:\/\/push\.example": must start with http:\/\/ or https:\/\//,
      requests: 0,
    },
    {
      name: 'an empty message',
      args: ['  ', '--token', APP_TOKEN],
      code: 2,
      message: /the message is empty/,
      requests: 0,
    },
    {
      name: '401',
      args: ['x', '--token', 'A_wrong_token'],
      code: 3,
      message: /401 Unauthorized: the Gotify application token is wrong/,
      hint: /check the application token \(--token-file, .*GOTIFY_TOKEN\); a client token cannot push/,
      requests: 1,
    },
    {
      name: '403',
      args: ['x', '--token', FORBIDDEN_TOKEN],
      code: 3,
      message: /403 Forbidden/,
      hint: /use the token of an application/,
      requests: 1,
    },
    {
      name: '400 with the server description',
      args: ['x', '--token', APP_TOKEN],
      setup: () => gotify.script.push({ status: 400, description: 'priority out of range' }),
      code: 3,
      message: /400 Bad Request: the server rejected the message: priority out of range/,
      requests: 1,
    },
    {
      name: '5xx after the retries',
      args: ['x', '--token', APP_TOKEN],
      setup: () => gotify.script.push({ status: 500 }, { status: 502 }, { status: 503 }),
      code: 4,
      message: /503 Service Unavailable: server error.*\(after 3 attempts\)/,
      hint: /see its logs, or send again later/,
      requests: 3,
    },
    {
      name: 'a timeout',
      args: ['x', '--token', APP_TOKEN, '--timeout', '300', '--retries', '0'],
      setup: () => gotify.script.push({ delayMs: 2000 }),
      code: 5,
      message: /did not answer within 300 ms/,
      hint: /If it is slow, raise --timeout/,
      requests: 1,
    },
  ];

  for (const f of failures) {
    it(`exits ${f.code} with a clear message on ${f.name}`, async () => {
      f.setup?.();
      const before = gotify.requests;
      const result = await notify(f.args, f.section ?? { url: gotify.url });
      expect(result.stderr).toMatch(f.message);
      if (f.hint) expect(result.stderr).toMatch(new RegExp(`^hint: .*${f.hint.source}`, 'm'));
      expect(result.code).toBe(f.code);
      if (f.requests !== undefined) expect(gotify.requests - before).toBe(f.requests);
      expect(result.stderr).not.toContain('A_wrong_token');
    });
  }

  it('never shows the token in `mesh-agent config`', async () => {
    await writeFile(
      configFile,
      JSON.stringify({ plugins: { 'notifications-gotify': { url: gotify.url, token: 'A_secret_value' } } }),
    );
    const result = await runCli(['config', '--json', '--config', configFile], agentEnv(home));
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('A_secret_value');
    const shown = JSON.parse(result.stdout) as {
      config: { plugins: Record<string, { token: string; url: string }> };
    };
    expect(shown.config.plugins['notifications-gotify']).toMatchObject({
      token: '[redacted]',
      url: gotify.url,
    });
  });

  it('exits 5 on a refused connection, after its retries, and keeps --json output parseable', async () => {
    const port = await closedPort();
    const result = await notify(['x', '--token', APP_TOKEN, '--retries', '1', '--json'], {
      url: `http://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(5);
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string; hint: string } };
    expect(error.message).toMatch(
      /cannot reach Gotify at http:\/\/127\.0\.0\.1:\d+\/message: connection refused \(after 2 attempts\)/,
    );
    expect(error.code).toBe('gotify_connection');
    expect(error.hint).toMatch(/is a Gotify server running at that address\? Check --url or plugins\./);
  });
});
