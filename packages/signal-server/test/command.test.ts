import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignalingClient } from '@mesh-agent/host';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import Server from '../src/commands/server.js';
import { hello, signed } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs the command until it has printed its first stdout line; returns that line and a stopper. */
async function runServer(argv: string[]): Promise<{ line: string; stop: () => Promise<void> }> {
  const lines: string[] = [];
  // oclif's `this.log` goes through console.log.
  const write = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  const running = Server.run([...argv, '--log-level', 'silent'], { root });
  running.catch(() => {});
  try {
    for (let i = 0; i < 100 && lines.length === 0; i++) {
      const early = await Promise.race([running.then(() => 'ended'), new Promise((r) => setTimeout(r, 50))]);
      if (early === 'ended') break;
    }
  } finally {
    write.mockRestore();
  }
  if (lines.length === 0) {
    process.emit('SIGTERM', 'SIGTERM');
    await running;
    throw new Error('the command printed nothing');
  }
  return {
    line: lines.join('').trim(),
    stop: async () => {
      process.emit('SIGTERM', 'SIGTERM');
      await running;
    },
  };
}

describe('mesh-agent server', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signal-cmd-'));
    delete process.env.MESH_SIGNAL_TOKENS;
    // Identity bindings go to the test's directory, never the user's state directory.
    process.env.MESH_SIGNAL_DATA_DIR = join(dir, 'state');
  });
  afterEach(async () => {
    delete process.env.MESH_SIGNAL_TOKENS;
    delete process.env.MESH_SIGNAL_DATA_DIR;
    await rm(dir, { recursive: true, force: true });
  });

  it('starts --open on a non-loopback address with --allow-open-network', async () => {
    const { line, stop } = await runServer([
      '--port',
      '0',
      '--open',
      '--host',
      '0.0.0.0',
      '--allow-open-network',
      '--json',
    ]);
    expect(JSON.parse(line)).toMatchObject({ open: true });
    await stop();
  });

  it('prints JSON with --json and serves agents holding a token from --token-file', async () => {
    const file = join(dir, 'tokens.txt');
    await writeFile(file, '# agents\nalice:alice-token-0123456789\n');
    const { line, stop } = await runServer([
      '--port',
      '0',
      '--token-file',
      file,
      '--json',
      '--session-ttl',
      '75',
    ]);
    const info = JSON.parse(line) as { url: string; port: number; open: boolean; session_ttl_s: number };
    expect(info).toMatchObject({ open: false, session_ttl_s: 75 });
    expect(info.url).toBe(`ws://127.0.0.1:${info.port}`);
    const client = new SignalingClient({
      url: info.url,
      hello: ({ nonce }) => signed(hello('alice', { token: 'alice-token-0123456789' }), nonce),
    });
    client.start();
    try {
      await expect(client.whenConnected(5_000)).resolves.toMatchObject({
        agent_id: 'alice',
        session_ttl_s: 75,
      });
    } finally {
      await client.stop();
      await stop();
    }
  });

  it('applies --max-connections-per-address: the next socket from the address gets HTTP 503', async () => {
    const { line, stop } = await runServer([
      '--port',
      '0',
      '--open',
      '--max-connections-per-address',
      '1',
      '--json',
    ]);
    const { url } = JSON.parse(line) as { url: string };
    const first = new WebSocket(url);
    try {
      await new Promise((resolve, reject) => first.once('open', resolve).once('error', reject));
      const second = new WebSocket(url);
      await expect(
        new Promise((resolve, reject) => second.once('open', resolve).once('error', reject)),
      ).rejects.toThrow(/503/);
    } finally {
      first.close();
      await stop();
    }
  });

  it('takes tokens from MESH_SIGNAL_TOKENS and prints the URL', async () => {
    process.env.MESH_SIGNAL_TOKENS = 'env-token-a-0123456789,env-token-b-0123456789';
    const { line, stop } = await runServer(['--port', '0']);
    expect(line).toMatch(/^signal server listening on ws:\/\/127\.0\.0\.1:\d+$/);
    const url = line.slice(line.indexOf('ws://'));
    const client = new SignalingClient({
      url,
      hello: ({ nonce }) => signed(hello('bob', { token: 'env-token-b-0123456789' }), nonce),
    });
    client.start();
    try {
      await expect(client.whenConnected(5_000)).resolves.toMatchObject({ agent_id: 'bob' });
    } finally {
      await client.stop();
      await stop();
    }
  });
});
