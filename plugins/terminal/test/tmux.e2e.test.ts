import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDirs } from '../../../packages/host/test/helpers/cli.js';
import { type Agent, makeAgent, type Server, startServer } from '../../../packages/host/test/helpers/mesh.js';
import { cliLine, until } from './helpers.js';

const run = promisify(execFile);
const socket = `mesh-terminal-test-${process.pid}`;

async function tmux(...args: string[]): Promise<string> {
  const { stdout } = await run('tmux', ['-L', socket, ...args]);
  return stdout;
}

const screen = (pane: string) => tmux('capture-pane', '-p', '-J', '-t', pane);

async function waitForScreen(pane: string, text: string, ms = 15_000): Promise<string> {
  let last = '';
  try {
    return await until(
      async () => {
        last = await screen(pane);
        return last.includes(text) ? last : undefined;
      },
      `"${text}" in pane ${pane}`,
      ms,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- ${pane} ---\n${last}`);
  }
}

/** `env K=V … <cli args>` for a tmux pane. */
function paneCommand(agent: Agent, args: string[]): string {
  return `env MESH_AGENT_HOME='${agent.home}' MESH_AGENT_DATA_DIR='${agent.env.MESH_AGENT_DATA_DIR}' HOME='${agent.home}' ${cliLine(args)}`;
}

// A person at two terminals: share-terminal in one tmux pane, attach-terminal in another.
describe('share-terminal and attach-terminal in tmux', () => {
  const dirs = new TempDirs();
  let server: Server;
  let owner: Agent;
  let viewer: Agent;

  beforeAll(async () => {
    server = await startServer(dirs);
    [owner, viewer] = await Promise.all([makeAgent(dirs), makeAgent(dirs)]);
  }, 60_000);

  afterAll(async () => {
    await tmux('kill-server').catch(() => {});
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('watch, ask for control, type, detach; the owner ends the shell', async () => {
    const env = ['-e', 'SHELL=/bin/bash', '-e', 'PS1=$ ', '-e', 'TERM=xterm-256color'];
    await tmux(
      'new-session',
      '-d',
      '-s',
      'owner',
      '-x',
      '100',
      '-y',
      '30',
      ...env,
      `${paneCommand(owner, ['share-terminal', '--server', server.url])}; echo "owner-exit=$?"; sleep 60`,
    );
    await waitForScreen('owner', `attach-terminal ${owner.id}`);
    await tmux(
      'new-session',
      '-d',
      '-s',
      'viewer',
      '-x',
      '100',
      '-y',
      '30',
      ...env,
      'bash --norc --noprofile',
    );
    await tmux(
      'send-keys',
      '-t',
      'viewer',
      paneCommand(viewer, ['attach-terminal', owner.id, '--server', server.url]),
      'Enter',
    );
    await waitForScreen('owner', `${viewer.id} is watching`);
    await waitForScreen('viewer', 'Ctrl-] d detach');

    // Read-only at first: what the viewer types never reaches the shell.
    await tmux('send-keys', '-t', 'viewer', 'echo typed-read-only', 'Enter');
    await waitForScreen('owner', 'dropped its');
    await waitForScreen('viewer', 'read-only');

    // Ask for control; the owner grants it with Ctrl-] y.
    await tmux('send-keys', '-t', 'viewer', 'C-]', 'c');
    await waitForScreen('owner', 'asks for control');
    await tmux('send-keys', '-t', 'owner', 'C-]', 'y');
    await waitForScreen('viewer', 'you have control');
    await tmux('send-keys', '-t', 'viewer', 'echo viewer-says-$((6*7))', 'Enter');
    await waitForScreen('owner', 'viewer-says-42');
    await waitForScreen('viewer', 'viewer-says-42');
    await tmux('send-keys', '-t', 'owner', 'echo owner-says-$((7*7))', 'Enter');
    await waitForScreen('viewer', 'owner-says-49');
    expect(await screen('owner')).not.toContain('typed-read-only\n');

    // Detach with Ctrl-] d: the viewer's shell is back, in cooked mode.
    await tmux('send-keys', '-t', 'viewer', 'C-]', 'd');
    await waitForScreen('viewer', 'detached; the shared terminal keeps running');
    await tmux(
      'send-keys',
      '-t',
      'viewer',
      'stty -a | tr " " "\\n" | grep -x -e icanon -e echo | tr "\\n" +',
      'Enter',
    );
    await waitForScreen('viewer', 'icanon+echo+');
    await waitForScreen('owner', `${viewer.id} left`);

    await tmux('send-keys', '-t', 'owner', 'exit 3', 'Enter');
    await waitForScreen('owner', 'owner-exit=3');
  }, 90_000);
});
