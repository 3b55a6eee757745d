import type { PeerInfo, PeerStanding } from '@mesh-agent/host';
import type { FileTransferConfig } from './config.js';

export type Decision = { accept: true } | { accept: false; reason: string };

/**
 * The accept policy. `room`: members of our room (in the member list, or the peer of a session
 * the server brokered, which it does only between room mates) and direct-mode peers, who hold a
 * token this agent's user handed out; `list`: only the agent ids in `allowFrom`; `deny`: nobody.
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
