import type { PeerInfo } from '../p2p/types.js';
import type { Member } from '../signaling/protocol.js';

/** What the host knows about how a peer reached it. */
export interface PeerStanding {
  /** Direct mode: the peer redeemed a token this agent's user handed out (`run --accept-token`). */
  direct: boolean;
  /**
   * The peer is in our room: in the member list as it stands, or the peer of a session the server
   * brokered (it brokers only between agents in one room, and the member delta announcing a new
   * member goes out up to 20 ms after the session offer).
   */
  roomMember: boolean;
}

/** Sessions remembered: tokens live for minutes, so only recent sessions matter. */
const MAX_BROKERED = 10_000;

/**
 * Who is in the agent's room and which sessions the signaling server brokered, from the control-plane
 * events the host receives. A session the server did not broker can only be a direct-mode one.
 */
export class PeerStandings {
  /** Session id → the peer the server brokered it with. */
  private readonly brokered = new Map<string, string>();
  private members = new Set<string>();

  constructor(private readonly room: string) {}

  onSession(sessionId: string, peerId: string): void {
    this.brokered.set(sessionId, peerId);
    if (this.brokered.size > MAX_BROKERED) this.brokered.delete(this.brokered.keys().next().value as string);
  }

  onMembers(room: string, members: readonly Member[]): void {
    if (room === this.room) this.members = new Set(members.map((m) => m.agent_id));
  }

  /** Agent ids in our room's member list as it stands. */
  roomMembers(): ReadonlySet<string> {
    return this.members;
  }

  standing(peer: Pick<PeerInfo, 'agentId' | 'sessionId'>): PeerStanding {
    const brokeredWith = this.brokered.get(peer.sessionId);
    return {
      direct: brokeredWith === undefined,
      roomMember: this.members.has(peer.agentId) || brokeredWith === peer.agentId,
    };
  }
}
