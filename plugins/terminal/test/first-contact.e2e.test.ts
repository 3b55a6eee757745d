import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, TempDirs, unwrap } from '../../../packages/host/test/helpers/cli.js';
import { type Agent, makeAgent, type Server, startServer } from '../../../packages/host/test/helpers/mesh.js';
import type { JsonCli } from './helpers.js';

// Issue #16, what a new user meets first: real server, agents as processes, real PTYs.
describe('share-terminal and attach-terminal on first contact', () => {
  const dirs = new TempDirs();
  let server: Server;
  let owner: Agent;
  const procs: JsonCli[] = [];

  beforeAll(async () => {
    server = await startServer(dirs);
    owner = await makeAgent(dirs);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await server?.proc.stop();
    await dirs.cleanup();
  });

  const share = (args: string[]) => runCli(['share-terminal', '--server', server.url, ...args], owner.env);

  it('refuses to overwrite an existing recording, before sharing anything', async () => {
    const cast = join(owner.home, 'old.cast');
    await writeFile(cast, 'yesterday\n');
    const result = await share(['--record', cast, '--command', 'echo hi']);
    expect(result.code).toBe(2);
    const stderr = unwrap(result.stderr);
    expect(stderr).toContain(`${cast} already exists`);
    expect(stderr).toMatch(/new file name/);
    expect(stderr).not.toContain('sharing a');
    expect(await readFile(cast, 'utf8')).toBe('yesterday\n');
  });

  it('fails at once when the recording cannot be created', async () => {
    const cast = join(owner.home, 'no-such-dir', 'session.cast');
    const result = await share(['--record', cast, '--command', 'echo hi']);
    expect(result.code).toBe(2);
    const stderr = unwrap(result.stderr);
    expect(stderr).toContain(`cannot create the recording ${cast}: its directory does not exist`);
    expect(stderr).not.toContain('sharing a');
  });
});
