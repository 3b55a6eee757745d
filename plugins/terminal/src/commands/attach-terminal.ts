import {
  acceptFlags,
  type FrameChannel,
  grantFromAcceptFlags,
  type Host,
  MeshCommand,
  MeshError,
  type OpenedStream,
  PeerUnavailableError,
  parseHostPort,
  peerFlags,
  printable,
  signalingOverrides,
  targetFromFlags,
  UsageError,
} from '@mesh-agent/host';
import { Args, Flags } from '@oclif/core';
import { TERMINAL_STREAM } from '../constants.js';
import terminal, { type TerminalApi } from '../index.js';
import { describeExit, exitCodeOf } from '../share-end.js';
import { SharerWatch } from '../sharer-watch.js';
import { enterRawMode } from '../tty.js';
import { ViewerClient, type ViewerResult } from '../viewer-client.js';
import { JsonDisplay, RawDisplay, TtyDisplay } from '../viewer-display.js';

export default class AttachTerminal extends MeshCommand<typeof AttachTerminal> {
  static override summary =
    'Watch a terminal another agent shares; type into it once the owner grants you control.';
  static override description =
    'Opens a `terminal` stream to the sharing agent (brokered by the signaling server, or direct mode) and ' +
    'renders the shared terminal here: first the current screen, then the live output. You are read-only until ' +
    'the owner grants you control (ask with --request-control or Ctrl-] c). Detach with Ctrl-] q (or Ctrl-] d). ' +
    'Your terminal is restored on every exit (modes, colours, cursor). Exits 0 when you detach or the owner ends ' +
    "the share, with the program's exit code when it ends on its own, 1 when the connection is lost. Without a " +
    'TTY, output goes to stdout as is (or as JSON lines with --json) ' +
    'and stdin is forwarded as keys. `--listen` with --session-id and --accept-token waits for a sharer to dial ' +
    'in (`share-terminal --peer-addr`).';
  static override examples = [
    '<%= config.bin %> attach-terminal agent-alice --server ws://127.0.0.1:7300',
    '<%= config.bin %> attach-terminal agent-alice --request-control',
    '<%= config.bin %> attach-terminal --peer-addr 127.0.0.1:7401 --session-id demo --token-file token.txt --peer-fingerprint <fp> --json',
  ];
  static override args = {
    agent: Args.string({ description: 'Agent id of the sharer (same as --to).' }),
  };
  static override flags = {
    ...peerFlags,
    'request-control': Flags.boolean({ summary: 'Ask the owner for control as soon as attached.' }),
    json: Flags.boolean({ summary: 'Print what arrives as JSON lines (snapshot, output, control, exit …).' }),
    listen: Flags.string({
      summary: 'Reverse direct mode: wait for a sharer to dial this UDP address.',
      helpValue: '127.0.0.1:0',
      dependsOn: ['session-id'],
      exclusive: ['to', 'peer-addr'],
    }),
    ...acceptFlags,
  };

  async run(): Promise<void> {
    const { flags, args } = this;
    if (args.agent && flags.to && args.agent !== flags.to)
      throw new UsageError('name the sharer once: as the argument or with --to');
    const listen = flags.listen ? parseHostPort(flags.listen, '--listen') : undefined;
    const target = listen ? undefined : targetFromFlags({ ...flags, to: args.agent ?? flags.to });
    const overrides = {
      ...signalingOverrides(flags),
      // Keep-alives every second: a live sharer answers them, which tells it from a dead one (SharerWatch).
      quic: { ...listen, keepAliveMs: SHARER_PROBE_MS },
      // Info logs would land in the middle of the shared screen.
      log: { level: flags['log-level'] ?? 'warn' },
    };
    // A fixed --listen port needs the daemon mode (oneshot always takes an ephemeral port).
    const mode = listen ? 'daemon' : 'oneshot';
    const result = await this.withPlugin(
      terminal,
      mode,
      overrides,
      async ({ host, api }) => {
        if (!target) return this.view(host, await this.waitForSharer(host, api));
        const opened = await host.openStream(target, TERMINAL_STREAM).catch((error: unknown) => {
          throw notSharing(error) ?? error;
        });
        const { path, rttMs } = await opened.connection.route();
        const rtt = rttMs === null ? '' : `, rtt ${rttMs} ms`;
        this.notice(
          { event: 'connected', sharer: opened.peer.agentId, path, rttMs },
          `connected to ${opened.peer.agentId} (${path} path${rtt})`,
        );
        return this.view(host, opened.channel, (client) => watchSharer(host, opened, client));
      },
      // Waiting for a sharer serves its terminal stream, nothing else this agent's plugins handle.
      { advertise: [TERMINAL_STREAM] },
    );
    process.exitCode = this.report(result);
  }

  /** Reverse direct mode: accept one `terminal` stream from the sharer that holds the token. */
  private async waitForSharer(host: Host, api: TerminalApi): Promise<FrameChannel> {
    const grant = grantFromAcceptFlags(this.flags);
    if (!grant) throw new UsageError('--listen needs --session-id and --accept-token');
    host.acceptDirect(grant);
    const incoming = api.nextSharer();
    const status = host.status();
    const info = {
      event: 'waiting',
      agentId: host.agentId,
      fingerprint: status.fingerprint,
      listen: status.listen,
    };
    if (this.flags.json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else
      process.stderr.write(
        `[mesh-agent] waiting for a sharer at ${status.listen.map((a) => `${a.address}:${a.port}`).join(', ')} ` +
          `(fingerprint ${status.fingerprint})\n`,
      );
    return incoming;
  }

  private async view(
    host: Host,
    channel: FrameChannel,
    watch: (client: ViewerClient) => SharerWatch | undefined = () => undefined,
  ): Promise<ViewerResult> {
    const { stdin, stdout } = process;
    const tty = Boolean(stdin.isTTY && stdout.isTTY) && !this.flags.json;
    const write = (data: string | Buffer) => stdout.write(data);
    const display = this.flags.json
      ? new JsonDisplay(write)
      : tty
        ? new TtyDisplay(write, () => ({ cols: stdout.columns, rows: stdout.rows }))
        : new RawDisplay(write, (data) => process.stderr.write(data));
    const client = new ViewerClient(channel, host.agentId, display);
    const watching = watch(client);
    const raw = tty ? enterRawMode({ stdin, stdout, onSignal: () => client.detach() }) : undefined;
    const detachOnSignal = () => client.detach();
    if (!tty)
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, detachOnSignal);
    const onInput = (data: Buffer) => client.input(data);
    stdin.on('data', onInput);
    // Something before us may have paused stdin; a 'data' listener alone does not resume it then.
    stdin.resume();
    const onResize = () => client.resize(stdout.columns, stdout.rows);
    if (tty) stdout.on('resize', onResize);
    try {
      if (this.flags['request-control']) client.requestControl();
      return await client.run();
    } finally {
      watching?.stop();
      raw?.restore();
      stdin.off('data', onInput);
      stdin.pause();
      stdout.off('resize', onResize);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, detachOnSignal);
    }
  }

  /** A JSON line on stdout with --json, else a line on stderr (stdout carries the terminal). */
  private notice(value: Record<string, unknown>, text: string): void {
    if (this.flags.json) process.stdout.write(`${JSON.stringify(value)}\n`);
    else process.stderr.write(`[mesh-agent] ${printable(text)}\n`);
  }

  /** Prints how the session ended (after the terminal was restored); returns the exit code. */
  private report(result: ViewerResult): number {
    switch (result.reason) {
      case 'exit': {
        const { owner, code, signal, by } = result;
        const text =
          by === 'owner'
            ? `${owner ?? 'the owner'} ended the share`
            : `the shared terminal ended (${describeExit(result)})`;
        this.notice({ event: 'exit', code, signal, by }, text);
        return exitCodeOf(result);
      }
      case 'detached':
        this.notice({ event: 'detached' }, 'detached; the shared terminal keeps running');
        return 0;
      case 'refused':
        this.notice({ event: 'refused', message: result.message }, `refused: ${result.message}`);
        return 1;
      case 'lost':
        this.notice({ event: 'lost', message: result.message }, `the share ended: ${result.message}`);
        return 1;
    }
  }
}

/** Keep-alive interval of a viewer's connection, and so how often a live sharer answers. */
const SHARER_PROBE_MS = 1_000;

/** Ends the view within seconds of the sharer's death, which the signaling server sees first. */
function watchSharer(host: Host, opened: OpenedStream, client: ViewerClient): SharerWatch | undefined {
  if (!host.signaling) return undefined;
  return new SharerWatch({
    roster: host.signaling,
    room: host.config.signaling.room,
    sharer: opened.peer.agentId,
    received: async () => (await opened.connection.quic.stats())?.recvPackets ?? null,
    onGone: () => client.sharerGone(),
    quietMs: 3 * SHARER_PROBE_MS,
  });
}

/**
 * The agent is online but nothing of it serves terminals: its daemon never does, only a running
 * share-terminal. A disabled terminal plugin looks the same from here (no share can run then).
 */
function notSharing(error: unknown): MeshError | undefined {
  if (!(error instanceof PeerUnavailableError) || error.code !== 'capability_missing') return undefined;
  return new MeshError(
    'not_sharing',
    `agent "${error.agentId}" is online but is not sharing a terminal`,
    'its owner starts a share with: mesh-agent share-terminal (the terminal plugin must be enabled ' +
      'there); attach once it prints "viewers run: …"',
  );
}
