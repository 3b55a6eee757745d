import { MeshCommand } from '../cli/base-command.js';
import { missingServer } from '../cli/errors.js';
import { signalingFlags, signalingOverrides } from '../cli/flags.js';
import { coreEventData } from '../host/core-events.js';
import { LOCAL_SIGNAL_URL } from '../signaling/constants.js';
import type { Member } from '../signaling/protocol.js';

export default class Peers extends MeshCommand<typeof Peers> {
  static override summary = 'List the agents online in the room.';
  static override description =
    "Connects to the signaling server with this agent's identity (next to a running daemon, if any), " +
    "asks for the room's members and prints them with their stream types, addresses and fingerprints.";
  static override examples = [
    `<%= config.bin %> peers --server ${LOCAL_SIGNAL_URL}`,
    `<%= config.bin %> peers --server ${LOCAL_SIGNAL_URL} --room team --json`,
  ];
  static override enableJsonFlag = true;
  static override flags = { ...signalingFlags };

  async run(): Promise<{ room: string; members: Member[] }> {
    return this.withHost('signaling', signalingOverrides(this.flags), async (host) => {
      if (!host.config.signaling.url) throw missingServer('list the agents of its room');
      const signaling = host.signaling!;
      await signaling.whenConnected(10_000);
      const reply = await signaling.request(
        'room.members',
        { room: host.config.signaling.room },
        { timeoutMs: 10_000 },
      );
      const data = coreEventData(reply, 'room.members');
      const members = data.members;
      for (const m of members) {
        const addresses = m.addresses.map((a) => `${a.address}:${a.port}`).join(',');
        const self = m.agent_id === host.agentId ? `  ${selfNote(m)}` : '';
        this.log(
          `${m.agent_id}  [${m.capabilities.join(',')}]  ${addresses}  ${m.fingerprint.slice(0, 16)}…${self}`,
        );
      }
      if (members.length === 0) this.log(`(nobody in room ${data.room})`);
      return { room: data.room, members };
    });
  }
}

/**
 * How this agent's own entry reads. A daemon advertises QUIC addresses; an entry without any is
 * this command's own connection, which ends with it: others cannot reach the agent until it runs.
 */
function selfNote(member: Member): string {
  return member.addresses.length > 0
    ? '(this agent)'
    : '(this agent, only this command: no daemon runs for it, so others cannot reach it; start one with mesh-agent run)';
}
