import type { ConnectionInfo } from '../presence.js';
import type { RemoteConnection } from './backplane.js';
import type { RedisClient } from './redis-client.js';
import { presenceMember, redisKeys } from './redis-keys.js';

// Drops the room's expired members, then returns what is left: one round trip, and no node sees
// an entry whose expiry has passed. Redis 7.0 has no per-field hash expiry, hence the sorted set.
const PRUNE_AND_READ = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 1, #expired, 1000 do
  local batch = {unpack(expired, i, math.min(i + 999, #expired))}
  redis.call('ZREM', KEYS[1], unpack(batch))
  redis.call('HDEL', KEYS[2], unpack(batch))
end
return redis.call('HVALS', KEYS[2])
`;

/** The room's keys outlive their last refresh by this factor, so abandoned rooms vanish. */
const KEY_TTL_FACTOR = 3;

/** Presence per room in Redis: a sorted set of member → expiry and a hash of member → info. */
export class RedisPresence {
  constructor(
    private readonly client: RedisClient,
    private readonly node: string,
    private readonly ttlMs: number,
  ) {}

  /** Writes (or refreshes) local connections into their rooms, and tells the rooms named in `announce`. */
  async write(entries: ReadonlyArray<[room: string, ConnectionInfo]>, announce: readonly string[] = []) {
    const expiresAt = Date.now() + this.ttlMs;
    const multi = this.client.multi();
    const rooms = new Set<string>();
    for (const [room, connection] of entries) {
      const member = presenceMember(this.node, connection.id);
      multi.zAdd(redisKeys.expiry(room), { score: expiresAt, value: member });
      multi.hSet(redisKeys.info(room), member, JSON.stringify(this.#remoteOf(connection)));
      rooms.add(room);
    }
    for (const room of rooms) {
      multi.pExpire(redisKeys.expiry(room), this.ttlMs * KEY_TTL_FACTOR);
      multi.pExpire(redisKeys.info(room), this.ttlMs * KEY_TTL_FACTOR);
    }
    for (const room of announce) multi.publish(redisKeys.roomEvents(room), this.node);
    await multi.exec();
  }

  async remove(room: string, connectionId: string): Promise<void> {
    const member = presenceMember(this.node, connectionId);
    await this.client
      .multi()
      .zRem(redisKeys.expiry(room), member)
      .hDel(redisKeys.info(room), member)
      .publish(redisKeys.roomEvents(room), this.node)
      .exec();
  }

  /** Live connections other nodes hold in the room, in a stable order. */
  async read(room: string): Promise<RemoteConnection[]> {
    const values = (await this.client.eval(PRUNE_AND_READ, {
      keys: [redisKeys.expiry(room), redisKeys.info(room)],
      arguments: [String(Date.now())],
    })) as string[];
    return values
      .map((value) => JSON.parse(value) as RemoteConnection)
      .filter((connection) => connection.node !== this.node)
      .sort((a, b) => a.node.localeCompare(b.node) || a.id.localeCompare(b.id));
  }

  #remoteOf(connection: ConnectionInfo): RemoteConnection {
    const { id, agentId, capabilities, addresses, fingerprint, connectedAt, seq, candidates, nat } =
      connection;
    return {
      node: this.node,
      id,
      agentId,
      capabilities,
      addresses,
      fingerprint,
      connectedAt,
      seq,
      candidates,
      nat,
    };
  }
}
