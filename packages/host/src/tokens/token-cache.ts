import { createHash, timingSafeEqual } from 'node:crypto';
import type { Candidate, NatKind } from '../signaling/protocol.js';

/** What the control plane (or the user, in direct mode) granted for one P2P session. */
export interface SessionGrant {
  sessionId: string;
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** The agent allowed to redeem it; undefined in direct mode when any agent with the token may. */
  peerId?: string;
  /** Pinned SHA-256 certificate fingerprint of the peer; undefined only in direct mode without one. */
  peerFingerprint?: string;
  peerAddresses: Array<{ address: string; port: number }>;
  role: 'initiator' | 'responder';
  streamType?: string;
  /** Where the peer's probes go and come from (brokered sessions of a NAT-aware server). */
  peerCandidates?: Candidate[];
  peerNat?: NatKind;
  /** This agent's relay grant for the session, and the relay's URL when not the signaling server's. */
  relay?: { grant: string; url?: string };
}

export type RedeemFailure =
  | 'unknown'
  | 'expired'
  | 'used'
  | 'bad-token'
  | 'wrong-agent'
  | 'wrong-fingerprint';
export type RedeemResult = { ok: true; grant: SessionGrant } | { ok: false; reason: RedeemFailure };

/** A grant as `status` shows it: never the token. */
export interface SessionSummary {
  sessionId: string;
  peerId?: string;
  role: SessionGrant['role'];
  streamType?: string;
  ttlMs: number;
  used: boolean;
}

interface Entry {
  grant: SessionGrant;
  digest: Buffer;
  used: boolean;
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * Session tokens with TTL, single use and a bounded size. Tokens are compared through their
 * SHA-256 digests with timingSafeEqual, so neither content nor length leaks through timing.
 * One peer holds at most `maxPerPeer` grants: a peer that asks for sessions in a flood pushes out
 * its own oldest, never other peers'.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxPerPeer: number;
  private readonly now: () => number;

  constructor(opts: { maxEntries?: number; maxPerPeer?: number; now?: () => number } = {}) {
    this.maxEntries = opts.maxEntries ?? 4096;
    this.maxPerPeer = opts.maxPerPeer ?? 256;
    this.now = opts.now ?? Date.now;
  }

  add(grant: SessionGrant): void {
    this.sweep();
    this.entries.delete(grant.sessionId);
    if (grant.peerId !== undefined) this.makeRoomFor(grant.peerId);
    this.entries.set(grant.sessionId, { grant, digest: digest(grant.token), used: false });
    // Oldest first: Map keeps insertion order.
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }

  /** Drops `peerId`'s oldest grants until it holds fewer than `maxPerPeer`. */
  private makeRoomFor(peerId: string): void {
    const own = [...this.entries].filter(([, entry]) => entry.grant.peerId === peerId);
    for (const [key] of own.slice(0, Math.max(0, own.length - this.maxPerPeer + 1))) this.entries.delete(key);
  }

  /** A live, unused grant, e.g. for the initiator to dial its peer. */
  get(sessionId: string): SessionGrant | undefined {
    const entry = this.entries.get(sessionId);
    return entry && !entry.used && entry.grant.expiresAt > this.now() ? entry.grant : undefined;
  }

  /** Checks a presented token; a success consumes the grant. */
  redeem(claim: { sessionId: string; token: string; agentId: string; fingerprint: string }): RedeemResult {
    const entry = this.entries.get(claim.sessionId);
    if (!entry) return { ok: false, reason: 'unknown' };
    if (!timingSafeEqual(entry.digest, digest(claim.token))) return { ok: false, reason: 'bad-token' };
    if (entry.used) return { ok: false, reason: 'used' };
    if (entry.grant.expiresAt <= this.now()) return { ok: false, reason: 'expired' };
    const { peerId, peerFingerprint } = entry.grant;
    if (peerId !== undefined && peerId !== claim.agentId) return { ok: false, reason: 'wrong-agent' };
    if (peerFingerprint !== undefined && peerFingerprint !== claim.fingerprint) {
      return { ok: false, reason: 'wrong-fingerprint' };
    }
    entry.used = true;
    return { ok: true, grant: entry.grant };
  }

  /** Drops expired grants; used ones stay until expiry so a replay reads as `used`, not `unknown`. */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.grant.expiresAt <= now) this.entries.delete(key);
  }

  list(): SessionSummary[] {
    this.sweep();
    const now = this.now();
    return [...this.entries.values()].map(({ grant, used }) => ({
      sessionId: grant.sessionId,
      peerId: grant.peerId,
      role: grant.role,
      streamType: grant.streamType,
      ttlMs: grant.expiresAt - now,
      used,
    }));
  }

  get size(): number {
    return this.entries.size;
  }
}
