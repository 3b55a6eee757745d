import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitOf, spawnCli } from './built-cli.js';

// Refusals of `mesh-agent server` and `mesh-agent relay`, as an operator meets them: in words
// with a hint on stderr, or one JSON line on stdout with --json; never oclif's own formatting.
describe('server and relay refusals (built CLI)', () => {
  let dir: string;
  let busy: ReturnType<typeof createServer>;
  let busyPort: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signal-errors-'));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    busy.close();
    await rm(dir, { recursive: true, force: true });
  });

  const server = (args: string[]) =>
    exitOf(spawnCli('server', ['--log-level', 'silent', ...args], { MESH_SIGNAL_DATA_DIR: dir }));

  it('refuses to start without tokens unless --open (exit 2, with the way out)', async () => {
    const text = await server(['--port', '0']);
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/^error: no tokens configured: pass --token.*--open/);
    expect(text.stderr).toMatch(/^hint: {2}see: mesh-agent server --help$/m);
    expect(text.stderr).not.toMatch(/›|EEXIT|Error:/);

    const json = await server(['--port', '0', '--json']);
    expect(json.code).toBe(2);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({
      error: {
        code: 'usage',
        message: expect.stringMatching(/^no tokens configured/),
        hint: expect.any(String),
      },
    });
  });

  it('refuses --open on a non-loopback address unless --allow-open-network', async () => {
    const refused = await server(['--port', '0', '--open', '--host', '0.0.0.0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/anyone who reaches the port.*--allow-open-network/);
  });

  it('names the flag of a limit below 1', async () => {
    const refused = await server(['--port', '0', '--open', '--max-connections', '0', '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.message).toMatch(/max-connections/);
  });

  it('says the port is in use and what to do, as text and as JSON (exit 1)', async () => {
    const args = ['--open', '--no-stun', '--port', String(busyPort)];
    const text = await server(args);
    expect(text.code).toBe(1);
    expect(text.stderr).toBe(
      `error: cannot listen on 127.0.0.1:${busyPort}: the port is in use\n` +
        'hint:  another program (another server?) has that port: stop it, or pick another with --port (0: any free one)\n',
    );
    const json = await server([...args, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'listen_failed', message: `cannot listen on 127.0.0.1:${busyPort}: the port is in use` },
    });
  });

  it('names the STUN port (UDP) when that is the one taken', async () => {
    const { createSocket } = await import('node:dgram');
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    try {
      const stunPort = udp.address().port;
      const refused = await server(['--open', '--port', '0', '--stun-port', String(stunPort)]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${stunPort} \\(UDP\\): the port is in use`),
      );
      expect(refused.stderr).toMatch(/pick another with --stun-port/);
    } finally {
      udp.close();
    }
  });

  it('relay: a taken port and a missing secret read the same way, JSON with --json', async () => {
    const secret = { MESH_RELAY_SECRET: 's'.repeat(40) };
    const taken = await exitOf(spawnCli('relay', ['--port', String(busyPort), '--json'], secret));
    expect(taken.code).toBe(1);
    expect(JSON.parse(taken.stdout).error).toMatchObject({ code: 'listen_failed' });
    const none = await exitOf(spawnCli('relay', ['--port', '0', '--json']));
    expect(none.code).toBe(2);
    expect(JSON.parse(none.stdout).error.message).toMatch(/^no relay secret/);
  });
});
