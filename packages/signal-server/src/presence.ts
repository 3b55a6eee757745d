import type { Candidate, Member, NatKind, SocketAddress } from '@mesh-agent/host';

/** One authenticated WebSocket of an agent. An agent may hold several (daemon + one-shot command). */
export interface AgentConnection {
  /** Opaque, random; relayed events name it as `from_conn`. */
  readonly id: string;
  readonly agentId: string;
  readonly capabilities: readonly string[];
  readonly addresses: readonly SocketAddress[];
  readonly fingerprint: string;
  readonly connectedAt: number;
  /** Strictly increasing per server: larger is newer. */
  readonly seq: number;
  readonly rooms: Set<string>;
  /** Where its QUIC socket may be reached, as it last announced (`p2p.candidates`). */
  candidates: Candidate[];
  nat: NatKind | undefined;
}

/** How many agent ids `wasSeenIn` remembers, so its memory stays bounded. */
const SEEN_LIMIT = 10_000;

/** Rooms and who is in them. Pure bookkeeping: no sockets, no I/O. */
export class Presence<C extends AgentConnection = AgentConnection> {
  readonly #rooms = new Map<string, Set<C>>();
  readonly #byAgent = new Map<string, Set<C>>();
  /** Agent id → rooms it has been in, most recently seen agents last. */
  readonly #seen = new Map<string, Set<string>>();

  add(connection: C): void {
    const set = this.#byAgent.get(connection.agentId) ?? new Set<C>();
    this.#byAgent.set(connection.agentId, set);
    set.add(connection);
  }

  /** Forgets the connection; returns the rooms it was in. */
  remove(connection: C): string[] {
    const rooms = [...connection.rooms];
    for (const room of rooms) this.leave(connection, room);
    const set = this.#byAgent.get(connection.agentId);
    set?.delete(connection);
    if (set?.size === 0) this.#byAgent.delete(connection.agentId);
    return rooms;
  }

  join(connection: C, room: string): void {
    const set = this.#rooms.get(room) ?? new Set<C>();
    this.#rooms.set(room, set);
    set.add(connection);
    connection.rooms.add(room);
    this.#remember(connection.agentId, room);
  }

  #remember(agentId: string, room: string): void {
    const rooms = this.#seen.get(agentId) ?? new Set<string>();
    this.#seen.delete(agentId);
    this.#seen.set(agentId, rooms);
    rooms.add(room);
    if (this.#seen.size > SEEN_LIMIT) this.#seen.delete(this.#seen.keys().next().value as string);
  }

  /** False when the connection was not in the room. */
  leave(connection: C, room: string): boolean {
    if (!connection.rooms.delete(room)) return false;
    const set = this.#rooms.get(room);
    set?.delete(connection);
    if (set?.size === 0) this.#rooms.delete(room);
    return true;
  }

  connectionsIn(room: string): C[] {
    return [...(this.#rooms.get(room) ?? [])];
  }

  /**
   * The room's agents, each listed once however many connections it holds: addresses of its
   * newest connection, capabilities of all of them, present since its oldest one.
   */
  members(room: string): Member[] {
    const byAgent = new Map<string, C[]>();
    for (const connection of this.#rooms.get(room) ?? []) {
      const list = byAgent.get(connection.agentId) ?? [];
      list.push(connection);
      byAgent.set(connection.agentId, list);
    }
    const members: Member[] = [];
    for (const [agentId, connections] of byAgent) {
      connections.sort((a, b) => b.seq - a.seq);
      const newest = connections[0]!;
      const capabilities = [...new Set(connections.flatMap((c) => c.capabilities))];
      const nat = connections.find((c) => c.nat !== undefined)?.nat;
      members.push({
        agent_id: agentId,
        capabilities,
        addresses: newest.addresses.map((a) => ({ ...a })),
        fingerprint: newest.fingerprint,
        connected_at: Math.min(...connections.map((c) => c.connectedAt)),
        // A one-shot command (no data plane) may be newer than the daemon that found the NAT kind.
        ...(nat ? { nat } : {}),
      });
    }
    return members.sort((a, b) => a.agent_id.localeCompare(b.agent_id));
  }

  /** Live connections of `agentId` that share at least one room with `asker`, newest first. */
  reachableConnections(agentId: string, asker: C): C[] {
    const connections = [...(this.#byAgent.get(agentId) ?? [])].filter((c) =>
      [...c.rooms].some((room) => asker.rooms.has(room)),
    );
    return connections.sort((a, b) => b.seq - a.seq);
  }

  /**
   * Whether the agent has been in one of `rooms` (it may be offline now). Only rooms the asker
   * shares count, so the answer says nothing about agents in other rooms.
   */
  wasSeenIn(agentId: string, rooms: ReadonlySet<string>): boolean {
    const seen = this.#seen.get(agentId);
    return seen !== undefined && [...rooms].some((room) => seen.has(room));
  }
}
