import { MeshCommand } from '../cli/base-command.js';
import { MeshError } from '../cli/errors.js';
import { callControl, controlSocketPath } from '../daemon/control-socket.js';
import type { Host } from '../host/host.js';

type Status = Awaited<ReturnType<Host['statusWithStats']>>;

export default class Status_ extends MeshCommand<typeof Status_> {
  static override summary = 'Ask the running daemon for its state (never shows tokens).';
  static override description =
    'Connects to the daemon of this agent home over its control socket and prints the signaling state, ' +
    'the QUIC listen addresses and UDP I/O path, cached sessions with their remaining TTL, connected peers and active streams.';
  static override examples = [
    '<%= config.bin %> status',
    'MESH_AGENT_HOME=/tmp/alice <%= config.bin %> status --json',
  ];
  static override enableJsonFlag = true;

  async run(): Promise<Status> {
    const agent = await this.loadAgent({}, 'none');
    const path = controlSocketPath(agent.home);
    let status: Status;
    try {
      status = (await callControl(path, 'status')) as Status;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') {
        throw new MeshError(
          'no_daemon',
          `no agent daemon runs for home ${agent.home}`,
          'start one with: mesh-agent run',
        );
      }
      throw error;
    }
    this.log(`agent        ${status.agentId}`);
    this.log(`fingerprint  ${status.fingerprint}`);
    this.log(
      `signaling    ${status.signaling.state}${status.signaling.url ? ` (${status.signaling.url})` : ''}`,
    );
    this.log(`quic         ${status.listen.map((a) => `${a.address}:${a.port}`).join(', ')}`);
    if (status.udp)
      this.log(
        `udp io       ${status.udp.path}${status.udp.whyNotGso ? ` (no GSO: ${status.udp.whyNotGso})` : ''}`,
      );
    this.log(`capabilities ${status.capabilities.join(', ') || '(none)'}`);
    this.log(`peers        ${status.peers.length === 0 ? '(none)' : ''}`);
    for (const p of status.peers) {
      const stats = p.stats
        ? `  rtt ${p.stats.rttMs} ms  cwnd ${p.stats.cwnd}  sent ${p.stats.sentBytes} B  received ${p.stats.recvBytes} B  lost ${p.stats.lostPackets} pkts`
        : '';
      this.log(`  ${p.agentId}@${p.address}:${p.port}${stats}`);
    }
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
