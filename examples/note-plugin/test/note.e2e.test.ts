import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, runCli, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  makeAgent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';

const NOTE_PLUGIN = resolve(import.meta.dirname, '..');

/** An agent home with the example plugin linked, as a user would with `mesh-agent plugins link`. */
async function agentWithNotes(dirs: TempDirs): Promise<Agent> {
  const agent = await makeAgent(dirs);
  const linked = await runCli(['plugins', 'link', NOTE_PLUGIN, '--no-install'], agent.env);
  if (linked.code !== 0) throw new Error(`plugins link failed: ${linked.stderr}`);
  return agent;
}

describe('the example note plugin, linked into two agents', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  let bob: Agent;

  beforeAll(async () => {
    server = await startServer(dirs);
    [alice, bob] = await Promise.all([agentWithNotes(dirs), agentWithNotes(dirs)]);
    await startDaemon(bob, ['--server', server.url]);
  }, 60_000);
  afterAll(async () => {
    await bob?.proc?.stop();
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('advertises its stream type and delivers a note from one agent to the other', async () => {
    const status = await runCli(['status', '--json'], bob.env);
    expect(JSON.parse(status.stdout).capabilities).toContain('note');

    const sent = await runCli(
      ['send-note', 'back in 5', '--to', bob.id, '--server', server.url, '--json'],
      alice.env,
    );
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toEqual({ peer: bob.id, count: 1 });
    const notes = await eventually(async () => readFile(join(bob.home, 'notes.jsonl'), 'utf8'), 10_000);
    expect(JSON.parse(notes)).toEqual({ from: alice.id, text: 'back in 5' });
  }, 60_000);
});
