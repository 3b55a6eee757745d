import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { type HostConfig, hostConfigSchema } from '../../src/config/schema.js';
import { AJV_OPTIONS } from '../../src/config/validate.js';

const PREBUILT = fileURLToPath(new URL('../../dist/config/host-config-validator.js', import.meta.url));

const empty = () => ({
  agent: {},
  signaling: {},
  quic: {},
  nat: {},
  p2p: {},
  tokens: {},
  log: {},
  plugins: {},
});
const trees: Array<[string, () => Record<string, unknown>]> = [
  ['defaults only', empty],
  [
    'a full config',
    () => ({
      ...empty(),
      agent: { id: 'alice-laptop', home: '/home/alice/.mesh' },
      signaling: { url: ['wss://a.example.org', 'wss://b.example.org'], room: 'team' },
      quic: { port: 7400, maxUdpPayload: 1400 },
      tokens: { maxPerPeer: 32 },
      log: { level: 'debug' },
      plugins: { terminal: { enabled: false } },
    }),
  ],
  ['a bad id and level', () => ({ ...empty(), agent: { id: 'not/ok' }, log: { level: 'loud' } })],
  ['an unknown key and a port out of range', () => ({ ...empty(), quic: { port: 70_000 }, bogus: 1 })],
  ['a non-ws server url', () => ({ ...empty(), signaling: { url: 'http://example.org' } })],
];

/** What a validator says of a tree: valid or not, the failing paths and rules, the defaults it filled. */
function verdict(validate: ValidateFunction<HostConfig>, tree: Record<string, unknown>) {
  const valid = validate(tree);
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`).sort();
  return { valid, errors, tree };
}

describe('the host config validator generated at build time', () => {
  it('exists in dist (pnpm build generates it)', () => {
    expect(existsSync(PREBUILT), `${PREBUILT} is missing: run pnpm build`).toBe(true);
  });

  it.each(trees)('judges %s exactly as ajv compiling the schema does', async (_name, tree) => {
    const prebuilt = (await import(PREBUILT)).default as ValidateFunction<HostConfig>;
    const compiled = new Ajv(AJV_OPTIONS).compile<HostConfig>(hostConfigSchema);
    expect(verdict(prebuilt, tree())).toEqual(verdict(compiled, tree()));
  });
});
