import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, validateConfig } from '@mesh-agent/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configSchema,
  DEFAULT_RULES,
  type GotifyConfig,
  PLUGIN_NAME,
  resolveToken,
  TokenError,
} from '../src/config.js';

/** The section as the host validates it (the host's own ajv, defaults filled). */
function validated(section: Record<string, unknown>): GotifyConfig {
  const config = validateConfig(
    { filepath: 'test.json', tree: { plugins: { [PLUGIN_NAME]: section } } },
    {},
    [{ name: PLUGIN_NAME, schema: configSchema }],
  );
  return config.plugins[PLUGIN_NAME] as unknown as GotifyConfig;
}

describe('config schema', () => {
  it('fills every default, nested ones included', () => {
    expect(validated({ url: 'https://push.example.com' })).toEqual({
      enabled: true,
      url: 'https://push.example.com',
      tokenEnv: 'GOTIFY_TOKEN',
      defaultPriority: 5,
      timeoutMs: 5000,
      queue: { max: 1000, flushOnStopMs: 2000 },
      retry: { initialDelayMs: 1000, maxDelayMs: 60000, factor: 2, maxAttempts: 0 },
      rules: DEFAULT_RULES,
    });
  });

  it('names each invalid field', () => {
    let error: unknown;
    try {
      validated({
        url: 'push.example.com',
        defaultPriority: 11,
        queue: { max: 0 },
        rules: [{ event: 'x' }],
        colour: 'red',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const path of ['/url', '/defaultPriority', '/queue/max', '/rules/0', 'colour'])
      expect(message).toContain(path);
  });
});

describe('resolveToken', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gotify-token-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('prefers token, then tokenFile, then the environment variable', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 'from-file\n');
    const env = { GOTIFY_TOKEN: 'from-env', OTHER: 'other' };
    expect(await resolveToken({ token: 'direct', tokenFile: file }, env)).toBe('direct');
    expect(await resolveToken({ tokenFile: file }, env)).toBe('from-file');
    expect(await resolveToken({}, env)).toBe('from-env');
    expect(await resolveToken({ tokenEnv: 'OTHER' }, env)).toBe('other');
  });

  it('explains a missing token, an unreadable and an empty file', async () => {
    await expect(resolveToken({}, {})).rejects.toThrow(/GOTIFY_TOKEN/);
    await expect(resolveToken({}, {})).rejects.toBeInstanceOf(TokenError);
    await expect(resolveToken({ tokenFile: join(dir, 'absent') }, {})).rejects.toThrow(/cannot read.*ENOENT/);
    const empty = join(dir, 'empty');
    await writeFile(empty, '  \n');
    await expect(resolveToken({ tokenFile: empty }, {})).rejects.toThrow(/is empty/);
  });
});
