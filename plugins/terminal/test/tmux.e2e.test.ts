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

/** The pane's title: what xterm-like terminals show as their status line. */
async function waitForTitle(pane: string, text: string): Promise<string> {
  return until(async () => {
    const title = await tmux('display', '-p', '-t', pane, '#{pane_title}');
    return title.includes(text) ? title : undefined;
  }, `"${text}" in the title of pane ${pane}`);
}

/** A detached 100x30 tmux session running `command` in bash with a plain prompt. */
async function newSession(name: string, command: string): Promise<void> {
  const env = ['-e', 'SHELL=/bin/bash', '-e', 'PS1=$ ', '-e', 'TERM=xterm-256color'];
  await tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', ...env, command);
}

/** Types `stty -a` in the pane's shell: canonical mode and echo are on again (no raw mode left). */
async function expectCookedMode(pane: string): Promise<void> {
  await tmux(
    'send-keys',
    '-t',
    pane,
    'stty -a | tr " " "\\n" | grep -x -e icanon -e echo | tr "\\n" +',
    'Enter',
  );
  await waitForScreen(pane, 'icanon+echo+');
}

/** The terminal modes tmux tracks for a pane, and where its cursor is. */
const PANE_FORMATS = [
  'alternate_on',
  'cursor_flag',
  'keypad_flag',
  'keypad_cursor_flag',
  'mouse_any_flag',
  'mouse_sgr_flag',
  'origin_flag',
  'insert_flag',
  'wrap_flag',
  'scroll_region_upper',
  'scroll_region_lower',
  'cursor_x',
  'cursor_y',
  'pane_height',
] as const;
type PaneState = Record<(typeof PANE_FORMATS)[number], number>;

async function paneState(pane: string): Promise<PaneState> {
  const format = PANE_FORMATS.map((name) => `#{${name}}`).join(' ');
  const values = (await tmux('display', '-p', '-t', pane, format)).trim().split(' ');
  return Object.fromEntries(PANE_FORMATS.map((name, i) => [name, Number(values[i])])) as PaneState;
}

/** What a full-screen program switches on (in the alternate screen), drawn again every 0.3 s. */
const MODES_ON =
  '\\033[?1049h\\033[?25l\\033[?1h\\033=\\033[?1003h\\033[?1006h\\033[3;10r\\033[?6h\\033[?7l\\033[4h\\033[1;31;44m';
const ALL_ON = {
  alternate_on: 1,
  cursor_flag: 0,
  keypad_flag: 1,
  keypad_cursor_flag: 1,
  mouse_any_flag: 1,
  mouse_sgr_flag: 1,
  origin_flag: 1,
  insert_flag: 1,
  wrap_flag: 0,
  scroll_region_upper: 2,
  scroll_region_lower: 9,
};
const TERMINAL_DEFAULTS = {
  alternate_on: 0,
  cursor_flag: 1,
  keypad_flag: 0,
  keypad_cursor_flag: 0,
  mouse_any_flag: 0,
  mouse_sgr_flag: 0,
  origin_flag: 0,
  insert_flag: 0,
  wrap_flag: 1,
  scroll_region_upper: 0,
  scroll_region_lower: 29,
};

/** The pane is back to a usable terminal: default modes, the cursor on the bottom row after `marker`. */
async function expectRestored(pane: string, marker: string): Promise<void> {
  const state = await paneState(pane);
  expect(state).toMatchObject(TERMINAL_DEFAULTS);
  // The shell's prompt follows on a fresh bottom line, below the shared output (not in the middle of it).
  expect(state.cursor_y).toBe(state.pane_height - 1);
  const lines = (await tmux('capture-pane', '-p', '-e', '-t', pane)).split('\n');
  expect(lines[state.cursor_y - 1]).toBe(marker);
  // capture-pane drops trailing blanks: the prompt is `$ `.
  expect([lines[state.cursor_y], state.cursor_x]).toEqual(['$', 2]);
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
    await newSession(
      'owner',
      `${paneCommand(owner, ['share-terminal', '--server', server.url])}; echo "owner-exit=$?"; sleep 60`,
    );
    await waitForScreen('owner', `attach-terminal ${owner.id}`);
    await newSession('viewer', 'bash --norc --noprofile');
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
    // The owner learns it on the status line; the shell's screen is left alone.
    await waitForTitle('owner', `${viewer.id} is typing without control`);
    expect(await screen('owner')).not.toContain('without control');
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
    await expectCookedMode('viewer');
    await waitForScreen('owner', `${viewer.id} left`);

    await tmux('send-keys', '-t', 'owner', 'exit 3', 'Enter');
    await waitForScreen('owner', 'owner-exit=3');
  }, 90_000);

  it('Ctrl-] q ends cleanly: the viewer detaches, the owner ends the share; exit 0, terminals restored', async () => {
    const program = `while :; do printf "${MODES_ON}\\033[Hmodes-on"; sleep 0.3; done`;
    await newSession(
      'sharer',
      `${paneCommand(owner, ['share-terminal', '--server', server.url, '--command', program])}; echo "sharer-exit=$?"; sleep 60`,
    );
    await waitForScreen('sharer', 'modes-on');
    await newSession('watcher', "PS1='$ ' bash --norc --noprofile");
    const attach = (marker: string) =>
      tmux(
        'send-keys',
        '-t',
        'watcher',
        `${paneCommand(viewer, ['attach-terminal', owner.id, '--server', server.url])}; echo "${marker}=$?"`,
        'Enter',
      );
    // Everything MODES_ON switches on, as tmux tracks it (a fresh viewer gets it with the next redraw).
    const modesOn = (pane: string) =>
      until(async () => {
        const state = await paneState(pane);
        return Object.entries(ALL_ON).every(([name, value]) => state[name as keyof PaneState] === value);
      }, `the program's modes in ${pane}`);

    // The viewer leaves with Ctrl-] q while the program has everything switched on.
    await attach('detach-exit');
    await waitForScreen('watcher', 'modes-on');
    await modesOn('watcher');
    await tmux('send-keys', '-t', 'watcher', 'C-]', 'q');
    await waitForScreen('watcher', 'detach-exit=0');
    await expectRestored('watcher', 'detach-exit=0');
    expect(await screen('watcher')).toContain('[mesh-agent] detached; the shared terminal keeps running');
    await expectCookedMode('watcher');
    await waitForScreen('sharer', `${viewer.id} left`);

    // Watching again; now the owner ends the share with Ctrl-] q: both sides exit 0.
    await attach('ended-exit');
    await waitForScreen('sharer', `${viewer.id} is watching`);
    await modesOn('watcher');
    await tmux('send-keys', '-t', 'sharer', 'C-]', 'q');
    await waitForScreen('sharer', 'sharer-exit=0');
    expect(await screen('sharer')).toContain('[mesh-agent] you ended the share; viewers were told');
    await waitForScreen('watcher', 'ended-exit=0');
    await expectRestored('watcher', 'ended-exit=0');
    expect(await screen('watcher')).toContain(`[mesh-agent] ${owner.id} ended the share`);
    // The owner's terminal showed the program too, and is restored the same way.
    expect(await paneState('sharer')).toMatchObject(TERMINAL_DEFAULTS);
  }, 90_000);
});
