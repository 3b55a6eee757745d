import type { Candidate, Member, NatKind, SocketAddress } from '@mesh-agent/host';

/** What the room knows of one authenticated WebSocket of an agent, whichever node holds it. */
export interface ConnectionInfo {
  /** Opaque, random; relayed events name it as `from_conn`. */
  readonly id: string;
  readonly agentId: string;
  readonly capabilities: readonly string[];
  readonly addresses: readonly SocketAddress[];
  readonly fingerprint: string;
  readonly connectedAt: number;
  /** Strictly increasing per server: breaks ties of `connectedAt`. */
  readonly seq: number;
  /** Where its QUIC socket may be reached, as it last announced (`p2p.candidates`). */
  candidates: Candidate[];
  nat: NatKind | undefined;
}

/** A connection this node holds. An agent may hold several (daemon + one-shot command). */
export interface AgentConnection extends ConnectionInfo {
  readonly rooms: Set<string>;
}

/** Orders connections newest first, across nodes too (by connect time, then per-node sequence). */
export function newestFirst(a: ConnectionInfo, b: ConnectionInfo): number {
  return b.connectedAt - a.connectedAt || b.seq - a.seq;
}

/**
 * A room's agents, each listed once however many connections it holds: addresses of its
 * newest connection, capabilities of all of them, present since its oldest one.
 */
export function membersOf(connections: Iterable<ConnectionInfo>): Member[] {
  const byAgent = new Map<string, ConnectionInfo[]>();
  for (const connection of connections) {
    const list = byAgent.get(connection.agentId) ?? [];
    list.push(connection);
    byAgent.set(connection.agentId, list);
  }
  const members: Member[] = [];
  for (const [agentId, list] of byAgent) {
    list.sort(newestFirst);
    const newest = list[0]!;
    const capabilities = [...new Set(list.flatMap((c) => c.capabilities))];
    const nat = list.find((c) => c.nat !== undefined)?.nat;
    members.push({
      agent_id: agentId,
      capabilities,
      addresses: newest.addresses.map((a) => ({ ...a })),
      fingerprint: newest.fingerprint,
      connected_at: Math.min(...list.map((c) => c.connectedAt)),
      // A one-shot command (no data plane) may be newer than the daemon that found the NAT kind.
      ...(nat ? { nat } : {}),
    });
  }
  return members.sort((a, b) => a.agent_id.localeCompare(b.agent_id));
}

/** How many agent ids `wasSeenIn` remembers, so its memory stays bounded. */
const SEEN_LIMIT = 10_000;

/** Rooms and who is in them. Pure bookkeeping: no sockets, no I/O. */
export class Presence<C extends AgentConnection = AgentConnection> {
  readonly #rooms = new Map<string, Set<C>>();
  readonly #byAgent = new Map<string, Set<C>>();
  readonly #byId = new Map<string, C>();
  /** Agent id → rooms it has been in, most recently seen agents last. */
  readonly #seen = new Map<string, Set<string>>();

  /** How much this node holds, for health and metrics. */
  counts(): { connections: number; agents: number; rooms: number } {
    return { connections: this.#byId.size, agents: this.#byAgent.size, rooms: this.#rooms.size };
  }

  /** The connection of this node with that id. */
  connection(id: string): C | undefined {
    return this.#byId.get(id);
  }

  add(connection: C): void {
    this.#byId.set(connection.id, connection);
    const set = this.#byAgent.get(connection.agentId) ?? new Set<C>();
    this.#byAgent.set(connection.agentId, set);
    set.add(connection);
  }

  /** Forgets the connection; returns the rooms it was in. */
  remove(connection: C): string[] {
    const rooms = [...connection.rooms];
    for (const room of rooms) this.leave(connection, room);
    this.#byId.delete(connection.id);
    const set = this.#byAgent.get(connection.agentId);
    set?.delete(connection);
    if (set?.size === 0) this.#byAgent.delete(connection.agentId);
    return rooms;
  }

  /** Rooms this node holds connections in. */
  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  join(connection: C, room: string): void {
    const set = this.#rooms.get(room) ?? new Set<C>();
    this.#rooms.set(room, set);
    set.add(connection);
    connection.rooms.add(room);
    this.remember(connection.agentId, room);
  }

  /** Notes that an agent (maybe on another node) was in the room. */
  remember(agentId: string, room: string): void {
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

  members(room: string): Member[] {
    return membersOf(this.#rooms.get(room) ?? []);
  }

  /** Live connections of `agentId` that share at least one room with `asker`, newest first. */
  reachableConnections(agentId: string, asker: C): C[] {
    const connections = [...(this.#byAgent.get(agentId) ?? [])].filter((c) =>
      [...c.rooms].some((room) => asker.rooms.has(room)),
    );
    return connections.sort(newestFirst);
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
