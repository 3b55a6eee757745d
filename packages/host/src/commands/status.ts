import { MeshCommand } from '../cli/base-command.js';
import { callControl, controlSocketPath } from '../daemon/control-socket.js';
import type { Host } from '../host/host.js';

type Status = ReturnType<Host['status']>;

export default class Status_ extends MeshCommand<typeof Status_> {
  static override summary = 'Ask the running daemon for its state (never shows tokens).';
  static override description =
    'Connects to the daemon of this agent home over its control socket and prints the signaling state, ' +
    'the QUIC listen addresses, cached sessions with their remaining TTL, connected peers and active streams.';
  static override examples = [
    '<%= config.bin %> status',
    'MESH_AGENT_HOME=/tmp/alice <%= config.bin %> status --json',
  ];
  static override enableJsonFlag = true;

  async run(): Promise<Status> {
    const agent = await this.loadAgent();
    const path = controlSocketPath(agent.home);
    let status: Status;
    try {
      status = (await callControl(path, 'status')) as Status;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') {
        this.error(`no agent daemon runs for home ${agent.home} (start one with: mesh-agent run)`, {
          exit: 1,
        });
      }
      throw error;
    }
    this.log(`agent        ${status.agentId}`);
    this.log(`fingerprint  ${status.fingerprint}`);
    this.log(
      `signaling    ${status.signaling.state}${status.signaling.url ? ` (${status.signaling.url})` : ''}`,
    );
    this.log(`quic         ${status.listen.map((a) => `${a.address}:${a.port}`).join(', ')}`);
    this.log(`capabilities ${status.capabilities.join(', ') || '(none)'}`);
    this.log(
      `peers        ${status.peers.map((p) => `${p.agentId}@${p.address}:${p.port}`).join(', ') || '(none)'}`,
    );
    this.log(`streams      ${status.activeStreams} active`);
    this.log(`sessions     ${status.sessions.length}`);
    for (const s of status.sessions) {
      this.log(
        `  ${s.sessionId}  ${s.role}  peer=${s.peerId ?? '(any)'}  ttl=${Math.round(s.ttlMs / 1000)}s${s.used ? '  used' : ''}`,
      );
    }
    return status;
  }
}
