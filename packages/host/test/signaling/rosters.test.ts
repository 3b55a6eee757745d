import { describe, expect, it } from 'vitest';
import { createEnvelope, type Member } from '../../src/index.js';
import { RoomRosters } from '../../src/signaling/rosters.js';

const member = (agentId: string, capabilities = ['file']): Member => ({
  agent_id: agentId,
  capabilities,
  addresses: [],
  fingerprint: 'f'.repeat(64),
  connected_at: 1,
});

const ids = (rosters: RoomRosters, room: string) => rosters.members(room).map((m) => m.agent_id);

describe('RoomRosters', () => {
  it('starts a room from a whole list and applies deltas to it', () => {
    const rosters = new RoomRosters();
    expect(
      rosters.apply(
        createEnvelope('room.members', { room: 'team', members: [member('bob'), member('alice')] }),
      ),
    ).toBe('team');
    expect(ids(rosters, 'team')).toEqual(['alice', 'bob']);
    rosters.apply(createEnvelope('room.delta', { room: 'team', joined: [member('carol')], left: ['alice'] }));
    expect(ids(rosters, 'team')).toEqual(['bob', 'carol']);
    // A joined entry replaces the agent's earlier one.
    rosters.apply(
      createEnvelope('room.delta', { room: 'team', joined: [member('bob', ['terminal'])], left: [] }),
    );
    expect(rosters.members('team').find((m) => m.agent_id === 'bob')?.capabilities).toEqual(['terminal']);
  });

  it('ignores deltas of rooms it has no list of, and forgets everything on clear', () => {
    const rosters = new RoomRosters();
    expect(
      rosters.apply(createEnvelope('room.delta', { room: 'ops', joined: [member('eve')], left: [] })),
    ).toBe(undefined);
    expect(rosters.members('ops')).toEqual([]);
    rosters.apply(createEnvelope('room.members', { room: 'ops', members: [member('eve')] }));
    rosters.clear();
    expect(rosters.members('ops')).toEqual([]);
  });
});
