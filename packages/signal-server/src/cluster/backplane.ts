import type { Envelope } from '@mesh-agent/host';
import type { ClaimResult } from '../bindings.js';
import type { ConnectionInfo } from '../presence.js';

/** A connection another node holds, as that node last wrote it to the shared store. */
export interface RemoteConnection extends ConnectionInfo {
  /** The node holding its socket. */
  readonly node: string;
}

/** What the backplane tells the server it runs in. */
export interface BackplaneEvents {
  /** Other nodes' part of the room changed for these agents (or was lost): local members need to know. */
  roomChanged(room: string, agentIds: readonly string[]): void;
  /** Another node routed an event to one of this node's connections. */
  deliver(connectionId: string, envelope: Envelope<unknown>): void;
}

/** Health of the shared store, for `/healthz` and `/metrics`. */
export type BackplaneHealth =
  | { store: 'memory' }
  | { store: 'redis'; state: 'ready' | 'down'; node: string; round_trip_ms: number | undefined };

/** Who owns an agent id: refuses a second key for a bound id. */
export interface BindingStore {
  claim(agentId: string, fingerprint: string): Promise<ClaimResult>;
  /** Resolves once every claim so far is stored. */
  flush(): Promise<void>;
}

/**
 * What several server nodes share: presence, room events, per-agent delivery and identity
 * bindings. The server keeps its own connections; the backplane mirrors them to the other nodes
 * and shows it theirs. Calls about local connections never wait: writes happen behind them.
 */
export interface Backplane {
  readonly bindings: BindingStore;
  start(events: BackplaneEvents): Promise<void>;
  stop(): Promise<void>;
  /**
   * A local connection entered the room (or its info changed: it is written again). Resolves
   * once other nodes' part of the room is in view, so the first member list is whole.
   */
  join(room: string, connection: ConnectionInfo): Promise<void>;
  /** A local connection left the room or closed. */
  leave(room: string, connection: ConnectionInfo): void;
  /** Other nodes' connections in the room, as last read. */
  remote(room: string): readonly RemoteConnection[];
  /** Hands an event to a connection another node holds; false when no node took it. */
  send(target: RemoteConnection, envelope: Envelope<unknown>): Promise<boolean>;
  health(): BackplaneHealth;
}
