import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayClient } from '@mesh-agent/host/nat';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mintRelayGrant } from '../src/index.js';
import { exitOf, firstLine, spawnCli } from './built-cli.js';
import { collect, until } from './relay-helpers.js';

function relay(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawnCli('relay', ['--port', '0', ...args], env);
}

describe('mesh-agent relay (built CLI)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-cmd-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start without a secret, or with one under 32 bytes (exit 2)', async () => {
    const none = await exitOf(relay([]));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no relay secret: pass --secret-file or set MESH_RELAY_SECRET/);
    const short = await exitOf(relay([], { MESH_RELAY_SECRET: 'too-short-secret' }));
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/MESH_RELAY_SECRET is 16 bytes; it must be at least 32/);
    expect(short.stderr).not.toMatch(/too-short-secret/);
  });

  it('relays between two agents with a secret from --secret-file, prints JSON, stops on SIGTERM', async () => {
    const secret = randomBytes(36).toString('base64');
    const file = join(dir, 'relay.secret');
    await writeFile(file, `${secret}\n`);
    const child = relay(['--secret-file', file, '--json', '--log-level', 'info']);
    children.push(child);
    const exited = exitOf(child);
    const info = JSON.parse(await firstLine(child)) as { url: string; port: number };
    expect(info.url).toBe(`ws://127.0.0.1:${info.port}/relay`);

    const sessionId = randomUUID();
    const expiresAt = Date.now() + 60_000;
    const key = Buffer.from(secret);
    const alice = new RelayClient({
      url: info.url,
      grant: mintRelayGrant(key, { sessionId, agentId: 'alice', peerId: 'bob', expiresAt }),
    });
    const bobGrant = mintRelayGrant(key, { sessionId, agentId: 'bob', peerId: 'alice', expiresAt });
    const bob = new RelayClient({ url: info.url, grant: bobGrant });
    await alice.connect();
    await bob.connect();
    const received = collect(bob);
    alice.send(Buffer.from('through the relay'));
    await until(() => received.length === 1);
    expect(received[0]?.toString()).toBe('through the relay');

    const aliceClosed = once(alice, 'close');
    child.kill('SIGTERM');
    expect((await aliceClosed)[0]).toBe(1001);
    const { code, stderr } = await exited;
    expect(code).toBe(0);
    expect(stderr).toMatch(/relay bound/);
    expect(stderr).not.toContain(secret);
    expect(stderr).not.toContain(bobGrant.split('.')[1]);
  });

  it('takes the secret from MESH_RELAY_SECRET and prints the URL', async () => {
    const child = relay(['--log-level', 'silent'], { MESH_RELAY_SECRET: 'e'.repeat(32) });
    children.push(child);
    expect(await firstLine(child)).toMatch(/^relay listening on ws:\/\/127\.0\.0\.1:\d+\/relay$/);
    child.kill('SIGINT');
    expect((await exitOf(child)).code).toBe(0);
  });
});
