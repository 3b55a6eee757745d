import { describe, expect, it } from 'vitest';
import { PeerStandings } from '../../src/host/peer-standings.js';

const member = (agent_id: string) => ({
  agent_id,
  capabilities: [],
  addresses: [],
  fingerprint: 'f'.repeat(64),
  connected_at: 0,
});

describe('PeerStandings', () => {
  it('knows the members of its own room only, and which sessions the server brokered', () => {
    const standings = new PeerStandings('team');
    standings.onMembers('team', [member('alice')]);
    standings.onMembers('other', [member('mallory')]);
    standings.onSession('s1', 'alice');
    expect(standings.standing({ agentId: 'alice', sessionId: 's1' })).toEqual({
      direct: false,
      roomMember: true,
    });
    expect(standings.standing({ agentId: 'mallory', sessionId: 's2' })).toEqual({
      direct: true,
      roomMember: false,
    });
    expect([...standings.roomMembers()]).toEqual(['alice']);
  });

  it("a brokered session's own peer counts as a room member before the member list names it", () => {
    const standings = new PeerStandings('team');
    standings.onMembers('team', []);
    standings.onSession('s1', 'carol');
    expect(standings.standing({ agentId: 'carol', sessionId: 's1' })).toEqual({
      direct: false,
      roomMember: true,
    });
    // Another agent presenting that session is not vouched for.
    expect(standings.standing({ agentId: 'mallory', sessionId: 's1' })).toEqual({
      direct: false,
      roomMember: false,
    });
  });

  it('the latest member list replaces the previous one', () => {
    const standings = new PeerStandings('team');
    standings.onMembers('team', [member('alice')]);
    standings.onMembers('team', [member('bob')]);
    expect(standings.standing({ agentId: 'alice', sessionId: 'x' }).roomMember).toBe(false);
  });
});
