import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventually, runCli, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import { type Agent, makeAgent, startDaemon } from '../../../packages/host/test/helpers/mesh.js';
import { APP_TOKEN, closedPort, FakeGotify, startFakeGotify } from './helpers/fake-gotify.js';

const DEMO_PLUGIN = resolve(import.meta.dirname, 'fixtures/demo-events-plugin');

/** An agent with the demo-events fixture linked and the Gotify section pointing at `url`. */
async function demoAgent(dirs: TempDirs, url: string): Promise<Agent & { configFile: string }> {
  const agent = await makeAgent(dirs, { env: { GOTIFY_TOKEN: APP_TOKEN } });
  const linked = await runCli(['plugins', 'link', DEMO_PLUGIN, '--no-install'], agent.env);
  if (linked.code !== 0) throw new Error(`plugins link failed: ${linked.stderr}`);
  const configFile = join(agent.home, 'mesh-agent.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      plugins: {
        'notifications-gotify': {
          url,
          retry: { initialDelayMs: 100, maxDelayMs: 400 },
          rules: [
            {
              event: 'demo.happened',
              title: 'Demo: {{name}}',
              message: '{{name}} ({{size}} bytes) run {{run}} on {{agentId}}',
            },
            { event: '*', message: 'unexpected {{event}}' },
          ],
        },
      },
    }),
  );
  return { ...agent, configFile };
}

describe('notifications from a running daemon', () => {
  const dirs = new TempDirs();
  const servers: FakeGotify[] = [];
  const agents: Agent[] = [];

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.proc?.stop()));
    for (const server of servers.splice(0)) {
      expect(server.violations).toEqual([]);
      await server.close();
    }
  });
  afterAll(() => dirs.cleanup());

  it('pushes exactly one notification for a plugin event and none for its progress events', async () => {
    const gotify = await startFakeGotify();
    servers.push(gotify);
    const agent = await demoAgent(dirs, gotify.url);
    agents.push(await startDaemon(agent, ['--config', agent.configFile]));
    await eventually(async () => gotify.received.length > 0);
    // Give stray notifications (the progress burst) a chance to show up.
    await new Promise((r) => setTimeout(r, 500));
    expect(gotify.received).toHaveLength(1);
    const pid = agent.proc?.child.pid;
    expect(gotify.received[0]?.body).toEqual({
      title: 'Demo: report.pdf',
      message: `report.pdf (1234 bytes) run ${pid} on ${agent.id}`,
      priority: 5,
    });
    expect(agent.proc?.stderr).not.toContain(APP_TOKEN);
  });

  it('retries while Gotify is down and delivers once it is back, without a restart', async () => {
    const port = await closedPort();
    const agent = await demoAgent(dirs, `http://127.0.0.1:${port}`);
    agents.push(await startDaemon(agent, ['--config', agent.configFile]));
    await eventually(async () => agent.proc?.stderr.includes('notifications paused'));
    const gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    servers.push(gotify);
    await eventually(async () => gotify.received.length > 0);
    expect(gotify.received.map((r) => r.body.title)).toEqual(['Demo: report.pdf']);
  });

  it('says once that notifications are paused while Gotify is down, retries quietly, and once that it is back', async () => {
    const port = await closedPort();
    const agent = await demoAgent(dirs, `http://127.0.0.1:${port}`);
    agents.push(await startDaemon(agent, ['--config', agent.configFile]));
    await eventually(async () => agent.proc?.stderr.includes('notifications paused'));
    // Retries come every 100–400 ms: in two seconds, several of them.
    await new Promise((r) => setTimeout(r, 2_000));
    const gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    servers.push(gotify);
    await eventually(async () => agent.proc?.stderr.includes('Gotify works again'));
    expect(gotify.received).toHaveLength(1);
    const records = (agent.proc?.stderr ?? '')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(records.filter((r) => r.level >= 40).map((r) => r.msg)).toEqual([
      `notifications paused: cannot reach Gotify at http://127.0.0.1:${port}/message: connection refused; ` +
        'they are kept and retried quietly until Gotify answers',
    ]);
    expect(records.filter((r) => r.msg.startsWith('Gotify works again'))).toHaveLength(1);
  });

  it('spools the undelivered notification on shutdown and sends it after a restart', async () => {
    const port = await closedPort();
    const agent = await demoAgent(dirs, `http://127.0.0.1:${port}`);
    const spool = join(agent.home, 'notifications-gotify', 'spool.jsonl');
    await startDaemon(agent, ['--config', agent.configFile]);
    const firstRun = agent.proc?.child.pid;
    await eventually(async () => agent.proc?.stderr.includes('notifications paused'));
    expect(await agent.proc?.stop('SIGTERM')).toBe(0);
    const spooled = (await readFile(spool, 'utf8')).trim().split('\n');
    expect(spooled).toHaveLength(1);
    expect(JSON.parse(spooled[0] as string).message.message).toContain(`run ${firstRun} `);

    const gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    servers.push(gotify);
    agents.push(await startDaemon(agent, ['--config', agent.configFile]));
    const secondRun = agent.proc?.child.pid;
    await eventually(async () => gotify.received.length >= 2);
    // The spooled one first, then the new run's own.
    expect(gotify.received.map((r) => r.body.message)).toEqual([
      `report.pdf (1234 bytes) run ${firstRun} on ${agent.id}`,
      `report.pdf (1234 bytes) run ${secondRun} on ${agent.id}`,
    ]);
    await eventually(async () =>
      readFile(spool).then(
        () => false,
        () => true,
      ),
    );
  });
});
