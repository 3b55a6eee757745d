import { createHash, timingSafeEqual } from 'node:crypto';
import { DEFAULT_ROOM } from '@mesh-agent/host';

/** Any room at all: what `--open` grants, or `rooms=*` on a token. */
export const ANY_ROOM = '*';

/** The rooms a connection may join. */
export type RoomGrant = typeof ANY_ROOM | readonly string[];

/** A bearer token, optionally usable only by one agent id, naming the rooms its holder may join. */
export interface TokenEntry {
  token: string;
  agentId?: string;
  /** Default: the default room only. */
  rooms?: RoomGrant;
  /** The one certificate the agent id is bound to (needs `agentId`). */
  fingerprint?: string;
}

export type AuthResult =
  | { ok: true; rooms: RoomGrant; fingerprint: string | undefined }
  | { ok: false; reason: 'missing' | 'invalid' };

interface HashedToken {
  hash: Buffer;
  agentId: string | undefined;
  rooms: RoomGrant;
  fingerprint: string | undefined;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function mayJoin(grant: RoomGrant, room: string): boolean {
  return grant === ANY_ROOM || grant.includes(room);
}

/**
 * Checks bearer tokens without leaking, through timing, how much of a guess was right:
 * tokens are compared as SHA-256 digests (equal length whatever the input) with
 * `timingSafeEqual`, and every configured token is compared on every attempt.
 * Only digests are kept, so a heap dump does not hand out the tokens either.
 */
export class TokenAuthenticator {
  readonly #tokens: readonly HashedToken[];

  constructor(tokens: ReadonlyArray<TokenEntry | string>) {
    this.#tokens = tokens.map((entry) => {
      const spec = typeof entry === 'string' ? { token: entry } : entry;
      return {
        hash: sha256(spec.token),
        agentId: spec.agentId,
        rooms: spec.rooms ?? [DEFAULT_ROOM],
        fingerprint: spec.fingerprint,
      };
    });
  }

  get size(): number {
    return this.#tokens.length;
  }

  /** Fingerprints pinned by token entries, by agent id. */
  pinnedFingerprints(): Map<string, string> {
    const pinned = new Map<string, string>();
    for (const { agentId, fingerprint } of this.#tokens) {
      if (agentId !== undefined && fingerprint !== undefined) pinned.set(agentId, fingerprint);
    }
    return pinned;
  }

  check(token: string | undefined, agentId: string): AuthResult {
    if (token === undefined || token.length === 0) return { ok: false, reason: 'missing' };
    const presented = sha256(token);
    let match: HashedToken | undefined;
    for (const entry of this.#tokens) {
      const equal = timingSafeEqual(presented, entry.hash);
      if (equal && match === undefined && (entry.agentId === undefined || entry.agentId === agentId)) {
        match = entry;
      }
    }
    return match
      ? { ok: true, rooms: match.rooms, fingerprint: match.fingerprint }
      : { ok: false, reason: 'invalid' };
  }
}
