import {
  acceptFlags,
  type FrameChannel,
  grantFromAcceptFlags,
  type Host,
  MeshCommand,
  missingServer,
  parseHostPort,
  printable,
  secretFileFlag,
  signalingFlags,
  signalingOverrides,
  targetFromFlags,
  UsageError,
} from '@mesh-agent/host';
import { Flags } from '@oclif/core';
import { attachCommand } from '../attach-command.js';
import { MAX_COLS, MAX_ROWS, TERMINAL_EVENTS, TERMINAL_STREAM } from '../constants.js';
import { ControlPrompt } from '../control-prompt.js';
import terminal, { type TerminalApi } from '../index.js';
import { KeySequenceScanner } from '../keys.js';
import { PtySession } from '../pty-session.js';
import { AsciicastRecorder } from '../recorder.js';
import { describeExit, exitCodeOf, type ShareEnd } from '../share-end.js';
import { type ShareEvent, ShareSession } from '../share-session.js';
import { enterRawMode, type RawMode } from '../tty.js';

const OWNER_HELP =
  'keys: Ctrl-] y grant control to the viewer named in the request shown, Ctrl-] n decline it, Ctrl-] r revoke control, ' +
  'Ctrl-] q end the share, Ctrl-] Ctrl-] send Ctrl-], Ctrl-] ? this help';

/** Plugin events other plugins observe, by share event. */
const PLUGIN_EVENTS: Partial<Record<ShareEvent['event'], string>> = {
  viewer_joined: TERMINAL_EVENTS.viewerJoined,
  viewer_left: TERMINAL_EVENTS.viewerLeft,
  control_requested: TERMINAL_EVENTS.controlRequested,
  control_granted: TERMINAL_EVENTS.controlGranted,
  control_revoked: TERMINAL_EVENTS.controlRevoked,
  ended: TERMINAL_EVENTS.ended,
};

export default class ShareTerminal extends MeshCommand<typeof ShareTerminal> {
  static override summary =
    'Share a terminal: others watch it read-only until you grant one of them control.';
  static override description =
    'Runs your shell (or --command) in a pseudo-terminal that you keep using here, and serves it to viewers ' +
    '(`mesh-agent attach-terminal <your agent id>`). This process advertises the `terminal` stream type to the ' +
    'signaling server on its own ephemeral QUIC port, so it runs next to your daemon. Viewers are read-only: their ' +
    'keys and resizes are dropped and reported to you. Grant control with --allow-control or when asked ' +
    '(Ctrl-] y), revoke it with Ctrl-] r. End the share with Ctrl-] q (or SIGTERM): exit 0 here and for every ' +
    "viewer; when the program ends on its own, both exit with the program's code. --to invites an agent (its " +
    'daemon tells its user how to attach) and ' +
    'restricts viewing to the invited agents. Direct mode without a server: --session-id and --accept-token ' +
    'let a viewer dial in; --peer-addr dials a viewer that waits with `attach-terminal --listen`.';
  static override examples = [
    '<%= config.bin %> share-terminal --server ws://127.0.0.1:7300',
    '<%= config.bin %> share-terminal --to agent-bob --allow-control agent-bob --record session.cast',
    '<%= config.bin %> share-terminal --command "htop" --cols 120 --rows 40 --listen 127.0.0.1:0 --session-id demo --accept-token-file token.txt',
  ];
  static override flags = {
    ...signalingFlags,
    command: Flags.string({
      summary: 'Run this command line (with $SHELL -c) instead of an interactive shell.',
    }),
    cols: Flags.integer({
      summary: 'Terminal width (default: your terminal, or 80).',
      min: 1,
      max: MAX_COLS,
    }),
    rows: Flags.integer({
      summary: 'Terminal height (default: your terminal, or 24).',
      min: 1,
      max: MAX_ROWS,
    }),
    to: Flags.string({
      summary: 'Invite this agent (repeatable); only invited agents may then watch.',
      multiple: true,
    }),
    'allow-control': Flags.string({ summary: 'Agent id that has control from the start.' }),
    record: Flags.string({ summary: 'Write an asciicast v2 recording of the session to this file.' }),
    'wait-viewers': Flags.integer({
      summary: 'Start the program only once this many viewers are attached (demos, tests).',
      min: 0,
      default: 0,
    }),
    listen: Flags.string({
      summary: 'UDP address for QUIC (default: quic.host, an ephemeral port).',
      helpValue: '127.0.0.1:0',
    }),
    ...acceptFlags,
    'peer-addr': Flags.string({
      summary: 'Direct mode: dial a viewer waiting with `attach-terminal --listen` at this address.',
      dependsOn: ['session-id', 'peer-fingerprint'],
    }),
    token: Flags.string({
      summary:
        'Direct mode: the token the waiting viewer accepts (better: --token-file or MESH_AGENT_SESSION_TOKEN).',
      env: 'MESH_AGENT_SESSION_TOKEN',
    }),
    'token-file': secretFileFlag('token', 'the direct-mode token'),
    'peer-fingerprint': Flags.string({
      summary: "Direct mode: the waiting viewer's certificate fingerprint.",
    }),
    json: Flags.boolean({ summary: 'Print events as JSON lines instead of mirroring the terminal here.' }),
  };

  async run(): Promise<void> {
    const { flags } = this;
    const size = this.initialSize();
    const listen = flags.listen ? parseHostPort(flags.listen, '--listen') : undefined;
    const { host, config, api } = await this.openPlugin(terminal, {
      ...signalingOverrides(flags),
      quic: listen ?? { port: 0 },
      // Info logs would land in the middle of the shared screen.
      log: { level: flags['log-level'] ?? 'warn' },
    });
    if (flags.to && !host.config.signaling.url)
      throw new UsageError('--to needs a signaling server (--server or signaling.url)');
    const grant = grantFromAcceptFlags(flags);
    // Nobody could reach this share: no server to be found through, no direct mode either.
    if (!host.config.signaling.url && !grant && !flags['peer-addr'])
      throw missingServer(
        'let other agents watch this terminal',
        'or share in direct mode: --session-id with --accept-token-file, or --peer-addr',
      );
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !flags.json;
    const out = new OwnerOutput(tty, flags.json);
    const prompt = new ControlPrompt();
    // Before anything is shared: a recording that cannot be made fails the command, not the session.
    const recorder = flags.record
      ? await AsciicastRecorder.create(flags.record, {
          ...size,
          command: flags.command,
          title: `shared by ${host.agentId}`,
        })
      : undefined;
    const session = new ShareSession({
      ownerId: host.agentId,
      ...size,
      allowControl: flags['allow-control'],
      allowedViewers: flags.to,
      recorder,
      limits: {
        maxBufferedPerViewer: config.viewerBufferBytes,
        viewerStallMs: config.viewerStallSeconds * 1000,
      },
      onOutput: flags.json ? undefined : (chunk) => out.output(chunk),
      onEvent: (event) => {
        out.event(event, prompt);
        const name = PLUGIN_EVENTS[event.event];
        if (name) host.emit(name, { owner: host.agentId, ...event });
      },
    });
    api.serveViewers((viewer, channel) => session.attach(viewer, channel));
    if (grant) host.acceptDirect(grant);
    try {
      // A daemon for viewers of this terminal only: the agent's own daemon keeps the other streams.
      await host.start('daemon', { advertise: [TERMINAL_STREAM] });
      // Before saying "viewers run …": a server that is down or refuses us would strand them.
      await host.signaling?.whenConnected(10_000);
    } catch (error) {
      await host.stop();
      // A share that never started leaves no recording behind (nor blocks the next --record).
      await recorder?.discard();
      throw error;
    }
    const status = host.status();
    out.ready({
      agentId: host.agentId,
      fingerprint: status.fingerprint,
      listen: status.listen,
      ...size,
      attach: host.signaling ? attachCommand(host.agentId, host) : undefined,
    });
    host.emit(TERMINAL_EVENTS.shared, { owner: host.agentId, ...size, command: flags.command ?? null });
    await invite(api, flags.to ?? [], out);
    if (flags['peer-addr']) void this.dialViewer(host, session, out);

    let stopped = false;
    const stopOnSignal = () => {
      stopped = true;
      session.stop();
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stopOnSignal);
    let raw: RawMode | undefined;
    try {
      while (session.viewerCount < flags['wait-viewers'] && !stopped) await delay(50);
      if (stopped) {
        await session.ended;
        return;
      }
      const pty = new PtySession({ command: flags.command, ...size });
      if (tty) raw = this.ownerTerminal(session, out, prompt);
      const end = await session.start(pty);
      out.closeStatus();
      raw?.restore();
      out.ended(end);
      if (recorder?.error) this.warn(`recording stopped early: ${recorder.error.message}`);
      process.exitCode = exitCodeOf(end);
    } finally {
      out.closeStatus();
      raw?.restore();
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, stopOnSignal);
      process.stdin.pause();
      await host.stop();
    }
  }

  private initialSize(): { cols: number; rows: number } {
    const local = process.stdout.isTTY
      ? { cols: process.stdout.columns, rows: process.stdout.rows }
      : undefined;
    return {
      cols: this.flags.cols ?? local?.cols ?? 80,
      rows: this.flags.rows ?? local?.rows ?? 24,
    };
  }

  /** Reverse direct mode: the viewer listens, the sharer dials. */
  private async dialViewer(host: Host, session: ShareSession, out: OwnerOutput): Promise<void> {
    let channel: FrameChannel | undefined;
    try {
      const target = targetFromFlags({ ...this.flags, to: undefined });
      const opened = await host.openStream(target, TERMINAL_STREAM);
      channel = opened.channel;
      await session.attach(opened.peer.agentId, channel);
    } catch (error) {
      out.message(`could not reach the viewer: ${(error as Error).message}`);
      channel?.destroy();
    }
  }

  /** The owner's own terminal: raw mode, keys to the PTY (minus Ctrl-] sequences), resizes. */
  private ownerTerminal(session: ShareSession, out: OwnerOutput, prompt: ControlPrompt): RawMode {
    const raw = enterRawMode({
      stdin: process.stdin,
      stdout: process.stdout,
      onSignal: () => session.stop(),
    });
    const scanner = new KeySequenceScanner();
    process.stdin.on('data', (data: Buffer) => {
      const { forward, commands } = scanner.scan(data);
      if (forward.length > 0) session.ownerInput(forward);
      for (const key of commands) {
        if (key === 'y' || key === 'n') {
          const viewer = prompt.current;
          if (viewer === undefined) out.message('no pending control request');
          // The grant or the decline names the viewer (control_granted / control_denied events).
          else if (key === 'y') session.grant(viewer);
          else session.deny(viewer);
        } else if (key === 'r') {
          if (!session.revoke()) out.message('no viewer has control');
        } else if (key === 'q') {
          session.stop();
        } else {
          out.message(OWNER_HELP);
        }
      }
    });
    process.stdout.on('resize', () => session.ownerResize(process.stdout.columns, process.stdout.rows));
    out.message(OWNER_HELP);
    return raw;
  }
}

/** How long a status notice stays in the owner's title bar. */
const STATUS_SHOWN_MS = 10_000;
/** Quiet output before a status notice is written: never in the middle of the program's escape sequence. */
const STATUS_QUIET_MS = 30;
/** A status notice waits no longer than this for quiet output. */
const STATUS_MAX_WAIT_MS = 1_000;

/** What the owner sees besides the terminal: one-line messages, or JSON lines with --json. */
class OwnerOutput {
  private lastOutputAt = 0;
  private statusText: string | undefined;
  private statusSince = 0;
  private statusTimer: NodeJS.Timeout | undefined;
  /** The terminal's own title is saved on its title stack while a notice shows. */
  private titleSaved = false;

  constructor(
    private readonly tty: boolean,
    private readonly json: boolean,
  ) {}

  /** The program's output, mirrored on the owner's terminal. */
  output(chunk: Buffer): void {
    this.lastOutputAt = Date.now();
    process.stdout.write(chunk);
  }

  /**
   * A passing notice that must not disturb the program's screen (a line written into it moves the
   * cursor under the shell's feet): at a terminal it goes to the status line, which xterm-like
   * terminals show as the window title (terminfo's tsl), and to stderr when that is not the terminal.
   */
  status(text: string): void {
    if (!this.tty) {
      this.message(text);
      return;
    }
    const line = `[mesh-agent] ${printable(text)}`;
    if (!process.stderr.isTTY) process.stderr.write(`${line}\n`);
    this.statusText = line;
    this.statusSince = Date.now();
    this.writeStatus();
  }

  /** Puts the terminal's title back (end of the share, or the notice has shown long enough). */
  closeStatus(): void {
    clearTimeout(this.statusTimer);
    this.statusText = undefined;
    if (!this.titleSaved) return;
    this.titleSaved = false;
    process.stdout.write('\x1b[23;2t');
  }

  private writeStatus(): void {
    clearTimeout(this.statusTimer);
    const text = this.statusText;
    if (text === undefined) return;
    const now = Date.now();
    const quietIn = this.lastOutputAt + STATUS_QUIET_MS - now;
    if (quietIn > 0 && now - this.statusSince < STATUS_MAX_WAIT_MS) {
      this.statusTimer = setTimeout(() => this.writeStatus(), quietIn);
      return;
    }
    // XTWINOPS 22/23 save and restore the title; OSC 2 sets it.
    if (!this.titleSaved) process.stdout.write('\x1b[22;2t');
    this.titleSaved = true;
    process.stdout.write(`\x1b]2;${text}\x07`);
    this.statusTimer = setTimeout(() => this.closeStatus(), STATUS_SHOWN_MS);
  }

  ready(info: {
    agentId: string;
    fingerprint: string;
    listen: Array<{ address: string; port: number }>;
    cols: number;
    rows: number;
    /** What viewers run, when they find this share through the signaling server. */
    attach: string | undefined;
  }): void {
    if (this.json) {
      this.line({ event: 'ready', ...info });
      return;
    }
    const where = info.listen.map((a) => `${a.address}:${a.port}`).join(', ');
    process.stderr.write(
      `[mesh-agent] sharing a ${info.cols}x${info.rows} terminal as ${info.agentId} (quic ${where})\n` +
        (info.attach ? `[mesh-agent] viewers run: ${info.attach}\n` : ''),
    );
  }

  /** Shows an event; control requests go through `prompt`, one on screen at a time. */
  event(event: ShareEvent, prompt: ControlPrompt): void {
    if (this.json) {
      this.line(event);
      return;
    }
    if (event.event === 'input_dropped') {
      this.status(describe(event) as string);
      return;
    }
    if (event.event === 'control_requested') {
      if (prompt.asked(event.viewer)) this.message(describe(event) as string);
      return;
    }
    const text = describe(event);
    if (text) this.message(text);
    const settled = SETTLING.has(event.event) && 'viewer' in event ? prompt.settled(event.viewer) : undefined;
    if (settled !== undefined)
      this.message(describe({ event: 'control_requested', viewer: settled }) as string);
  }

  message(text: string): void {
    if (this.json) this.line({ event: 'message', message: text });
    // Viewer names and reasons come from peers: shown, never obeyed.
    else if (this.tty) process.stdout.write(`\r\n[mesh-agent] ${printable(text)}\r\n`);
    else process.stderr.write(`[mesh-agent] ${printable(text)}\n`);
  }

  ended(end: ShareEnd): void {
    if (this.json) return;
    if (end.by === 'owner') this.message('you ended the share; viewers were told');
    else this.message(`the shared terminal ended (${describeExit(end)})`);
  }

  private line(value: object): void {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  }
}

/** Events after which a viewer's control request needs no answer any more. */
const SETTLING = new Set<ShareEvent['event']>([
  'control_granted',
  'control_denied',
  'viewer_left',
  'viewer_dropped',
]);

function describe(event: ShareEvent): string | undefined {
  switch (event.event) {
    case 'viewer_joined':
      return `${event.viewer} is watching (${event.viewers} viewer${event.viewers === 1 ? '' : 's'})`;
    case 'viewer_left':
      return `${event.viewer} left (${event.reason})`;
    case 'viewer_refused':
      return `${event.viewer} tried to watch but is not invited`;
    case 'control_requested':
      return `${event.viewer} asks for control: Ctrl-] y to grant it to ${event.viewer}, Ctrl-] n to decline`;
    case 'control_granted':
      return `${event.viewer} has control (Ctrl-] r to revoke)`;
    case 'control_revoked':
      return `control taken back from ${event.viewer}`;
    case 'control_denied':
      return `declined ${event.viewer}'s control request`;
    case 'input_dropped':
      return event.kind === 'resize'
        ? `${event.viewer} has no control: its resize is ignored`
        : `${event.viewer} is typing without control: its keys are dropped`;
    case 'viewer_resynced':
      return `${event.viewer} fell behind and got a fresh screen`;
    case 'viewer_dropped':
      return `dropped ${event.viewer}: ${event.reason}`;
    default:
      return undefined;
  }
}

/** Tells each invited agent, through the signaling server, how to attach. */
async function invite(api: TerminalApi, agents: string[], out: OwnerOutput): Promise<void> {
  for (const to of agents) {
    await api.invite(to);
    out.message(`invited ${to}`);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
