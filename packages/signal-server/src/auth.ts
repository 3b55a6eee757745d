import { createHash, timingSafeEqual } from 'node:crypto';

/** A bearer token, optionally usable only by one agent id. */
export interface TokenEntry {
  token: string;
  agentId?: string;
}

export type AuthResult = 'ok' | 'missing' | 'invalid';

interface HashedToken {
  hash: Buffer;
  agentId: string | undefined;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
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
      const { token, agentId } = typeof entry === 'string' ? { token: entry, agentId: undefined } : entry;
      return { hash: sha256(token), agentId };
    });
  }

  get size(): number {
    return this.#tokens.length;
  }

  check(token: string | undefined, agentId: string): AuthResult {
    if (token === undefined || token.length === 0) return 'missing';
    const presented = sha256(token);
    let accepted = false;
    for (const entry of this.#tokens) {
      const equal = timingSafeEqual(presented, entry.hash);
      if (equal && (entry.agentId === undefined || entry.agentId === agentId)) accepted = true;
    }
    return accepted ? 'ok' : 'invalid';
  }
}
