import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type Envelope, SILENT_LOGGER, type SignalingLogger } from '@mesh-agent/host';
import type { ConnectionInfo } from '../presence.js';
import type { Backplane, BackplaneEvents, BackplaneHealth, RemoteConnection } from './backplane.js';
import { RedisBindings } from './redis-bindings.js';
import { type RedisClient, redactedUrl, redisClient } from './redis-client.js';
import { presenceMember, redisKeys, roomOfEventsChannel } from './redis-keys.js';
import { RedisPresence } from './redis-presence.js';

export interface RedisBackplaneOptions {
  url: string;
  /** How long a presence entry lives without a refresh: a dead node's agents vanish within it. Default 15 s. */
  presenceTtlMs?: number;
  /** Bindings fixed in the token file: agent id → fingerprint. */
  pinned?: ReadonlyMap<string, string>;
  log?: SignalingLogger;
}

/** What goes over an agent's inbox channel: an event for one connection on one node. */
interface Delivery {
  node: string;
  connection: string;
  envelope: Envelope<unknown>;
}

/** Agents with a connection that appeared, changed or vanished between two reads of a room. */
function changedAgents(before: readonly RemoteConnection[], after: readonly RemoteConnection[]): string[] {
  const key = (c: RemoteConnection) => presenceMember(c.node, c.id);
  const unmatched = new Map(before.map((c) => [key(c), JSON.stringify(c)]));
  const changed = new Set<string>();
  for (const connection of after) {
    if (unmatched.get(key(connection)) !== JSON.stringify(connection)) changed.add(connection.agentId);
    unmatched.delete(key(connection));
  }
  for (const connection of before) if (unmatched.has(key(connection))) changed.add(connection.agentId);
  return [...changed];
}

/** How long a room event waits for others to read the room once for all of them. */
const READ_COALESCE_MS = 10;

/** How long `start` waits for Redis before serving local agents only. */
const CONNECT_WAIT_MS = 2_000;

/**
 * Nodes sharing one Redis: presence entries with expiry (refreshed here for the connections
 * this node holds), room events over pub/sub, and an inbox channel per agent that only the
 * nodes holding that agent subscribe to. While Redis is away the node serves its own agents
 * and writes everything again when it returns.
 */
export class RedisBackplane implements Backplane {
  readonly node = randomBytes(6).toString('base64url');
  readonly bindings: RedisBindings;
  readonly #url: string;
  readonly #ttlMs: number;
  readonly #log: SignalingLogger;
  readonly #client: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #presence: RedisPresence;
  /** Local connections by room: what each refresh writes. */
  readonly #local = new Map<string, Map<string, ConnectionInfo>>();
  /** Local connections by agent: whose inbox this node listens to. */
  readonly #inboxes = new Map<string, Set<string>>();
  /** Other nodes' connections by room, as last read. */
  readonly #view = new Map<string, RemoteConnection[]>();
  /** Rooms to read again shortly (another node changed them). */
  readonly #readsDue = new Set<string>();
  #events: BackplaneEvents | undefined;
  #refresh: NodeJS.Timeout | undefined;
  #ready = false;
  #roundTripMs: number | undefined;

  constructor(options: RedisBackplaneOptions) {
    this.#url = options.url;
    this.#ttlMs = options.presenceTtlMs ?? 15_000;
    this.#log = options.log ?? SILENT_LOGGER;
    this.#client = redisClient(options.url);
    this.#subscriber = redisClient(options.url);
    this.#presence = new RedisPresence(this.#client, this.node, this.#ttlMs);
    this.bindings = new RedisBindings(this.#client, options.pinned);
  }

  async start(events: BackplaneEvents): Promise<void> {
    this.#events = events;
    this.#client.on('ready', () => this.#onReady());
    this.#client.on('error', (error: Error) => this.#onDown(error));
    this.#subscriber.on('ready', () => this.#resubscribe());
    this.#subscriber.on('error', () => {});
    const connecting = Promise.all([this.#client.connect(), this.#subscriber.connect()]);
    connecting.catch(() => {});
    const waited = await Promise.race([
      connecting.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, CONNECT_WAIT_MS, false).unref()),
    ]);
    if (!waited)
      this.#log.warn({ redis: redactedUrl(this.#url) }, 'redis unreachable; serving local agents only');
    // Refresh well within the TTL, so one slow round does not let live entries expire.
    this.#refresh = setInterval(() => void this.#refreshAll(), Math.max(100, this.#ttlMs / 3));
  }

  async stop(): Promise<void> {
    clearInterval(this.#refresh);
    this.#events = undefined;
    await Promise.all(
      [this.#client, this.#subscriber].map((client) => (client.isOpen ? client.close() : undefined)),
    ).catch(() => {});
  }

  async join(room: string, connection: ConnectionInfo): Promise<void> {
    const inRoom = this.#local.get(room) ?? new Map<string, ConnectionInfo>();
    const firstHere = inRoom.size === 0;
    if (firstHere) {
      this.#local.set(room, inRoom);
      this.#subscribe(redisKeys.roomEvents(room));
    }
    inRoom.set(connection.id, connection);
    const inbox = this.#inboxes.get(connection.agentId) ?? new Set<string>();
    if (inbox.size === 0) {
      this.#inboxes.set(connection.agentId, inbox);
      this.#subscribe(redisKeys.agentInbox(connection.agentId));
    }
    inbox.add(connection.id);
    await this.#write(async () => {
      await this.#presence.write([[room, connection]], [room]);
      if (firstHere) await this.#read(room);
    });
  }

  leave(room: string, connection: ConnectionInfo): void {
    const inRoom = this.#local.get(room);
    if (!inRoom?.delete(connection.id)) return;
    if (inRoom.size === 0) {
      this.#local.delete(room);
      this.#view.delete(room);
      this.#unsubscribe(redisKeys.roomEvents(room));
    }
    const stillHere = [...this.#local.values()].some((c) => c.has(connection.id));
    const inbox = this.#inboxes.get(connection.agentId);
    if (!stillHere && inbox?.delete(connection.id) && inbox.size === 0) {
      this.#inboxes.delete(connection.agentId);
      this.#unsubscribe(redisKeys.agentInbox(connection.agentId));
    }
    void this.#write(() => this.#presence.remove(room, connection.id));
  }

  remote(room: string): readonly RemoteConnection[] {
    return this.#view.get(room) ?? [];
  }

  async send(target: RemoteConnection, envelope: Envelope<unknown>): Promise<boolean> {
    if (!this.#ready) return false;
    const delivery: Delivery = { node: target.node, connection: target.id, envelope };
    const receivers = await this.#client.publish(
      redisKeys.agentInbox(target.agentId),
      JSON.stringify(delivery),
    );
    return receivers > 0;
  }

  health(): BackplaneHealth {
    return {
      store: 'redis',
      state: this.#ready ? 'ready' : 'down',
      node: this.node,
      round_trip_ms: this.#roundTripMs,
    };
  }

  /** Back (or there for the first time): write every local entry and read every room again. */
  #onReady(): void {
    if (!this.#ready) this.#log.info({ redis: redactedUrl(this.#url), node: this.node }, 'redis connected');
    this.#ready = true;
    void this.#refreshAll();
  }

  /** Other nodes are out of sight: show local agents only, rather than a view that goes stale. */
  #onDown(error: Error): void {
    if (!this.#ready) return;
    this.#ready = false;
    this.#roundTripMs = undefined;
    this.#log.error(
      { redis: redactedUrl(this.#url), err: error.message },
      'redis unreachable; serving local agents only until it returns',
    );
    for (const [room, remote] of this.#view) {
      this.#view.set(room, []);
      if (remote.length > 0)
        this.#events?.roomChanged(
          room,
          remote.map((c) => c.agentId),
        );
    }
  }

  async #refreshAll(): Promise<void> {
    if (!this.#ready) return;
    try {
      const started = performance.now();
      await this.#client.ping();
      this.#roundTripMs = performance.now() - started;
      const entries = [...this.#local].flatMap(([room, inRoom]) =>
        [...inRoom.values()].map((connection) => [room, connection] as [string, ConnectionInfo]),
      );
      if (entries.length > 0) await this.#presence.write(entries);
      await Promise.all([...this.#local.keys()].map((room) => this.#read(room)));
    } catch (error) {
      this.#log.debug({ err: (error as Error).message }, 'presence refresh failed');
    }
  }

  /** Reads the room from Redis and tells the server when other nodes' part changed. */
  async #read(room: string): Promise<void> {
    const remote = await this.#presence.read(room);
    if (!this.#local.has(room)) return;
    const before = this.#view.get(room) ?? [];
    this.#view.set(room, remote);
    const changed = changedAgents(before, remote);
    if (changed.length > 0) this.#events?.roomChanged(room, changed);
  }

  /**
   * Another node changed the room: read it again soon. Events that arrive before that read
   * starts ride along with it, so a burst of joins costs one read of the room, not one each.
   */
  #onRoomEvent(room: string, node: string): void {
    if (node === this.node || !this.#ready || this.#readsDue.has(room)) return;
    this.#readsDue.add(room);
    setTimeout(() => {
      this.#readsDue.delete(room);
      this.#read(room).catch((error: Error) =>
        this.#log.debug({ room, err: error.message }, 'reading a room after its event failed'),
      );
    }, READ_COALESCE_MS);
  }

  #onDelivery(message: string): void {
    const delivery = JSON.parse(message) as Delivery;
    if (delivery.node === this.node) this.#events?.deliver(delivery.connection, delivery.envelope);
  }

  /** The one listener of every channel (a listener set per channel: subscribing again is a no-op). */
  readonly #listener = (message: string, channel: string): void => {
    const room = roomOfEventsChannel(channel);
    if (room !== undefined) this.#onRoomEvent(room, message);
    else this.#onDelivery(message);
  };

  #subscribe(channel: string): void {
    if (this.#subscriber.isReady) this.#subscriber.subscribe(channel, this.#listener).catch(() => {});
  }

  #unsubscribe(channel: string): void {
    if (this.#subscriber.isReady) this.#subscriber.unsubscribe(channel, this.#listener).catch(() => {});
  }

  /** After a reconnect: listen to every channel this node needs (those it had come back by themselves). */
  #resubscribe(): void {
    for (const room of this.#local.keys()) this.#subscribe(redisKeys.roomEvents(room));
    for (const agentId of this.#inboxes.keys()) this.#subscribe(redisKeys.agentInbox(agentId));
  }

  /** Writes behind the caller; a failed write is repaired by the next refresh. */
  async #write(operation: () => Promise<unknown>): Promise<void> {
    if (!this.#ready) return;
    await operation().catch((error: Error) =>
      this.#log.debug({ err: error.message }, 'presence write failed'),
    );
  }
}
