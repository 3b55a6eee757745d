import { type ClaimResult, claimAgainst } from '../bindings.js';
import type { BindingStore } from './backplane.js';
import type { RedisClient } from './redis-client.js';
import { redisKeys } from './redis-keys.js';

/** Raised while the store is unreachable and the id's owner is not known here. */
export class BindingsUnavailableError extends Error {
  override readonly name = 'BindingsUnavailableError';
}

/** Bindings this node has seen confirmed, kept to answer while Redis is away. */
const CONFIRMED_LIMIT = 100_000;

/**
 * Identity bindings shared by every node: the first key to claim an id wins through an atomic
 * SET NX, so two nodes cannot each bind the id to a different key.
 */
export class RedisBindings implements BindingStore {
  readonly #client: RedisClient;
  readonly #pinned: ReadonlyMap<string, string>;
  readonly #confirmed = new Map<string, string>();

  constructor(client: RedisClient, pinned: ReadonlyMap<string, string> = new Map()) {
    this.#client = client;
    this.#pinned = pinned;
  }

  async claim(agentId: string, fingerprint: string): Promise<ClaimResult> {
    const pinned = claimAgainst(this.#pinned.get(agentId), fingerprint);
    if (pinned) return pinned;
    if (!this.#client.isReady) {
      const known = claimAgainst(this.#confirmed.get(agentId), fingerprint);
      if (known) return known;
      throw new BindingsUnavailableError('the shared identity store is unreachable');
    }
    const previous = await this.#client.set(redisKeys.binding(agentId), fingerprint, {
      condition: 'NX',
      GET: true,
    });
    const boundTo = typeof previous === 'string' ? previous : fingerprint;
    this.#remember(agentId, boundTo);
    return boundTo === fingerprint ? { ok: true, created: previous === null } : { ok: false, boundTo };
  }

  async flush(): Promise<void> {}

  #remember(agentId: string, fingerprint: string): void {
    this.#confirmed.delete(agentId);
    this.#confirmed.set(agentId, fingerprint);
    if (this.#confirmed.size > CONFIRMED_LIMIT)
      this.#confirmed.delete(this.#confirmed.keys().next().value as string);
  }
}
