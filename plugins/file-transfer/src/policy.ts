import type { PeerInfo } from '@mesh-agent/host';
import type { FileTransferConfig } from './config.js';

/** What the receiver knows about how a peer reached it. */
export interface PeerStanding {
  /** Direct mode: the peer redeemed a token this agent's user handed out (`run --accept-token`). */
  direct: boolean;
  /** The peer is in the latest `room.members` list of our room. */
  roomMember: boolean;
}

export type Decision = { accept: true } | { accept: false; reason: string };

/**
 * The accept policy. `room`: members of our room (the server brokers sessions only between room
 * mates, and we check the member list again) and direct-mode peers, who hold a token this agent's
 * user handed out; `list`: only the agent ids in `allowFrom`; `deny`: nobody.
 */
export function decide(config: FileTransferConfig, peer: PeerInfo, standing: PeerStanding): Decision {
  switch (config.accept) {
    case 'deny':
      return { accept: false, reason: 'this agent does not accept files (accept policy "deny")' };
    case 'list':
      return config.allowFrom.includes(peer.agentId)
        ? { accept: true }
        : { accept: false, reason: `agent ${peer.agentId} is not in this agent's allowFrom list` };
    case 'room':
      return standing.direct || standing.roomMember
        ? { accept: true }
        : { accept: false, reason: `agent ${peer.agentId} is not a member of this agent's room` };
  }
}

/**
 * Follows the signaling events that tell how peers reached us: brokered session ids and the
 * members of our room. A session the server did not broker can only be a direct-mode one.
 */
export class PeerDirectory {
  private readonly brokered = new Set<string>();
  private members = new Set<string>();

  onSession(sessionId: string): void {
    this.brokered.add(sessionId);
    // Bounded: only recent sessions matter (tokens live for minutes).
    if (this.brokered.size > 10_000) this.brokered.delete(this.brokered.values().next().value as string);
  }

  onMembers(agentIds: string[]): void {
    this.members = new Set(agentIds);
  }

  standing(peer: PeerInfo): PeerStanding {
    return { direct: !this.brokered.has(peer.sessionId), roomMember: this.members.has(peer.agentId) };
  }
}
