/** Every key and channel the nodes share, in one place. Room names and agent ids are key-safe. */
export const redisKeys = {
  /** Sorted set: presence member → expiry (ms since the epoch). */
  expiry: (room: string) => `mesh:room:${room}:expiry`,
  /** Hash: presence member → its connection info (JSON). */
  info: (room: string) => `mesh:room:${room}:info`,
  /** Pub/sub: "this room changed", published by the node that changed it. */
  roomEvents: (room: string) => `mesh:room:${room}:events`,
  /** Pub/sub: events for one agent's connections; only nodes holding the agent listen. */
  agentInbox: (agentId: string) => `mesh:agent:${agentId}`,
  /** String: the fingerprint an agent id is bound to. */
  binding: (agentId: string) => `mesh:binding:${agentId}`,
} as const;

const ROOM_EVENTS = /^mesh:room:(.+):events$/;

/** The room whose events channel this is, if it is one. */
export function roomOfEventsChannel(channel: string): string | undefined {
  return ROOM_EVENTS.exec(channel)?.[1];
}

/** A presence member names the node holding the socket and the connection. */
export function presenceMember(node: string, connectionId: string): string {
  return `${node}/${connectionId}`;
}
