import { Flags } from '@oclif/core';
import { MeshCommand } from '../cli/base-command.js';
import { createHost, untilSignal } from '../cli/create-host.js';
import { explainError } from '../cli/explain-error.js';
import {
  acceptFlags,
  grantFromAcceptFlags,
  parseHostPort,
  signalingFlags,
  signalingOverrides,
} from '../cli/flags.js';
import { ControlServer, controlSocketPath } from '../daemon/control-socket.js';
import type { Host } from '../host/host.js';
import { SignalingClientError } from '../signaling/client.js';
import { LOCAL_SIGNAL_URL } from '../signaling/constants.js';

export default class Run extends MeshCommand<typeof Run> {
  static override summary =
    'Run the agent daemon: join the signaling server, listen for QUIC, serve plugins.';
  static override description =
    "The daemon is the agent's long-lived presence. It announces its QUIC addresses, certificate fingerprint and " +
    'the stream types of its enabled plugins to the signaling server, accepts the sessions the server brokers, ' +
    'and answers `mesh-agent status` over a control socket in its home (mode 0600). ' +
    'Direct mode needs no server: hand a peer a session id and a token (--session-id, --accept-token) and the ' +
    'address and fingerprint this command prints. Stop it with Ctrl-C or SIGTERM.';
  static override examples = [
    `<%= config.bin %> run --server ${LOCAL_SIGNAL_URL}`,
    `MESH_AGENT_HOME=/tmp/bob <%= config.bin %> run --server ${LOCAL_SIGNAL_URL} --listen 127.0.0.1:0`,
    'openssl rand -hex 16 > token.txt && <%= config.bin %> run --listen 127.0.0.1:7400 --session-id demo --accept-token-file token.txt',
  ];
  static override enableJsonFlag = true;
  static override defaultLogLevel = 'info' as const;
  static override flags = {
    ...signalingFlags,
    listen: Flags.string({
      summary: 'UDP address for QUIC (overrides quic.host/quic.port).',
      helpValue: '0.0.0.0:7400',
    }),
    ...acceptFlags,
  };

  /** The stopped record (and an error) on one line too, like every record the daemon prints. */
  override logJson(json: unknown): void {
    writeRecord(json as Record<string, unknown>);
  }

  async run(): Promise<{ event: 'stopped'; signal: string }> {
    const { flags } = this;
    const listen = flags.listen ? parseHostPort(flags.listen, '--listen') : undefined;
    const agent = await this.loadAgent({ ...signalingOverrides(flags), quic: listen ?? {} });
    const host = await createHost(agent);
    const grant = grantFromAcceptFlags(flags);
    if (grant) host.acceptDirect(grant);
    const control = new ControlServer(controlSocketPath(agent.home));
    control.handle('status', () => host.statusWithStats());
    await control.listen();
    // A line for each event a person cares about (a file arrived, an invitation); with --json,
    // every event as one JSON record, for scripts to follow the daemon.
    host.hooks.anyPluginEvent.tap('run', (name, payload) => {
      if (this.jsonEnabled()) writeRecord({ ...payload, event: name });
      else {
        const line = host.eventLine(name, payload);
        if (line) this.log(line);
      }
    });
    try {
      await host.start();
      return await this.serve(host);
    } finally {
      await host.stop();
      await control.close();
    }
  }

  /** Says the daemon is ready, then runs until a signal, or until the signaling server refuses it. */
  private async serve(host: Host): Promise<{ event: 'stopped'; signal: string }> {
    // A server that refuses the agent's credentials will not change its mind: stop with its reason
    // (the error this command prints; nothing logs it besides).
    const refused = host.untilRefused();
    // Report ready once the room knows us, so a peer can be brokered to us right away. A refusal
    // ends the daemon before it says it is ready; anything else may pass, so it retries.
    await host.signaling?.whenConnected(10_000).catch((error: Error) => {
      if (error instanceof SignalingClientError && error.code === 'rejected') throw error;
      const why = explainError(error);
      host.log.warn({ hint: why.hint }, `${why.message}; retrying in the background`);
    });
    // Listen for signals before saying we are ready: whoever reads that line may stop us at once.
    const stopped = untilSignal();
    const status = host.status();
    if (this.jsonEnabled()) {
      writeRecord({ event: 'ready', ...status });
    } else {
      this.log(`agent ${status.agentId} running`);
      this.log(`  fingerprint  ${status.fingerprint}`);
      this.log(`  quic         ${status.listen.map((a) => `${a.address}:${a.port}`).join(', ')}`);
      this.log(`  signaling    ${status.signaling.url ?? '(none: direct mode only)'}`);
      this.log(`  plugins      ${status.capabilities.join(', ') || '(no stream types)'}`);
    }
    const outcome = await Promise.race([stopped, refused]);
    if (typeof outcome !== 'string')
      throw new SignalingClientError('rejected', outcome.message, status.signaling.url ?? undefined);
    host.log.info({ reason: outcome }, 'shutting down');
    return { event: 'stopped', signal: outcome };
  }
}

/** One compact line per record (oclif's logJson is multi-line), so scripts can read them while the daemon runs. */
function writeRecord(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}
