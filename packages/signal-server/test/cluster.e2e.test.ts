import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, TempDirs } from '../../host/test/helpers/cli.js';
import {
  type Agent,
  makeAgent,
  type Server,
  startDaemon,
  startServer,
} from '../../host/test/helpers/mesh.js';
import { Harness, hello, memberIds } from './helpers.js';
import { redisAvailable, TestRedis } from './redis-helpers.js';

const PRESENCE_TTL_S = 2;

/**
 * `mesh-agent server --redis` nodes with real agents (daemons and one-shot commands of the CLI):
 * a file moves between agents on different nodes, and a killed node's agents move to the other
 * node while the ones that cannot move drop out of the room within the presence TTL.
 */
describe.skipIf(!redisAvailable())('signal-server nodes on one Redis, with real agents', () => {
  const dirs = new TempDirs();
  const observers = new Harness();
  let redis: TestRedis;
  let a: Server;
  let b: Server;
  let alice: Agent;
  let bob: Agent;
  let carol: Agent;

  const agentConfig = {
    quic: { idleTimeoutMs: 4_000, keepAliveMs: 1_000 },
    plugins: { 'file-transfer': {} },
  };

  /** Sends a fresh 1 MiB file and checks that the bytes arrived. */
  async function moved(from: Agent, to: Agent, server: Server): Promise<void> {
    const work = await dirs.make('mesh-cluster-files-');
    const content = randomBytes(1024 * 1024);
    const file = join(work, `${from.id}.bin`);
    await writeFile(file, content);
    const result = await runCli(
      ['send-file', file, '--to', to.id, '--server', server.url, '--json'],
      from.env,
      {
        timeoutMs: 60_000,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    const { files } = JSON.parse(result.stdout) as { files: Array<{ savedAs: string }> };
    const saved = await readFile(join(to.home, 'downloads', files[0]!.savedAs));
    expect(saved.equals(content)).toBe(true);
  }

  beforeAll(async () => {
    redis = await TestRedis.start();
    const nodeArgs = ['--open', '--redis', redis.url, '--presence-ttl', String(PRESENCE_TTL_S)];
    [a, b] = await Promise.all([startServer(dirs, nodeArgs), startServer(dirs, nodeArgs)]);
    const agent = (name: string) => makeAgent(dirs, { config: agentConfig, prefix: `mesh-${name}-` });
    [alice, bob, carol] = await Promise.all([agent('alice'), agent('bob'), agent('carol')]);
    await Promise.all([
      // Alice lists both nodes and fails over; carol knows node A only.
      startDaemon(alice, ['--server', `${a.url},${b.url}`]),
      startDaemon(bob, ['--server', b.url]),
      startDaemon(carol, ['--server', a.url]),
    ]);
  }, 60_000);

  afterAll(async () => {
    await observers.dispose();
    await Promise.all([alice, bob, carol].map((agent) => agent?.proc?.stop()));
    await Promise.all([a?.proc.stop(), b?.proc.stop()]);
    await redis?.stop();
    await dirs.cleanup();
  });

  it('moves a file between agents on different nodes', async () => {
    const observer = await observers.connected(b.url, hello('observer'));
    const everyone = [alice.id, bob.id, carol.id, 'observer'].sort();
    await expect
      .poll(async () => memberIds(await observer.request('room.members', { room: 'default' })), {
        timeout: 15_000,
      })
      .toEqual(everyone);
    await moved(alice, bob, a);
    await moved(bob, carol, b);
  }, 90_000);

  it('a killed node: its agents move to the other node, the rest leave the room within the TTL', async () => {
    const observer = await observers.connected(b.url, hello('watcher'));
    const members = async () => memberIds(await observer.request('room.members', { room: 'default' }));
    await expect.poll(members, { timeout: 15_000 }).toContain(carol.id);
    await a.proc.stop('SIGKILL');
    const killedAt = Date.now();
    await expect.poll(members, { timeout: 4 * PRESENCE_TTL_S * 1000, interval: 100 }).not.toContain(carol.id);
    const converged = Date.now() - killedAt;
    // Expiry itself, plus at most one refresh period (TTL/3) before node B reads the room again.
    expect(converged).toBeLessThan((PRESENCE_TTL_S * 4 * 1000) / 3 + 500);
    console.log(`presence converged ${converged} ms after node A was killed (TTL ${PRESENCE_TTL_S} s)`);
    expect(await members()).toContain(alice.id);
    await moved(bob, alice, b);
  }, 90_000);
});
