import type { Envelope, Member, MembersData, MembersDeltaData } from './protocol.js';

/**
 * The member lists of the rooms an agent is in, kept from the server's events: a whole list
 * (`room.members`) replaces the room's, a delta (`room.delta`) changes it. The server sends each
 * membership change as a delta, so a room of n agents costs n small messages per change, not n lists.
 */
export class RoomRosters {
  readonly #rooms = new Map<string, Map<string, Member>>();

  /** Applies a member event; returns the room it changed, if it was one. */
  apply(envelope: Envelope): string | undefined {
    if (envelope.type === 'room.members') {
      const { room, members } = envelope.data as unknown as MembersData;
      this.#rooms.set(room, new Map(members.map((m) => [m.agent_id, m])));
      return room;
    }
    if (envelope.type === 'room.delta') {
      const { room, joined, left } = envelope.data as unknown as MembersDeltaData;
      const roster = this.#rooms.get(room);
      // A delta for a room whose list we never got (we left it meanwhile) changes nothing.
      if (!roster) return undefined;
      for (const agentId of left) roster.delete(agentId);
      for (const member of joined) roster.set(member.agent_id, member);
      return room;
    }
    return undefined;
  }

  /** The room's members as last known, by agent id. */
  members(room: string): Member[] {
    return [...(this.#rooms.get(room)?.values() ?? [])].sort((a, b) => a.agent_id.localeCompare(b.agent_id));
  }

  /** Forgets everything: a new connection starts from whole lists again. */
  clear(): void {
    this.#rooms.clear();
  }
}
