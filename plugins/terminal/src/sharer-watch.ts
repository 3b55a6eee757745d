import type { Member, SignalingClientEvents } from '@mesh-agent/host';
import { TERMINAL_STREAM } from './constants.js';

/** The part of the signaling client the watch needs: the room rosters it keeps. */
export interface RosterSource {
  on(event: 'members', listener: (...args: SignalingClientEvents['members']) => void): unknown;
  off(event: 'members', listener: (...args: SignalingClientEvents['members']) => void): unknown;
}

export interface SharerWatchOptions {
  roster: RosterSource;
  room: string;
  sharer: string;
  /** Packets received on the connection to the sharer so far; null when not known. */
  received: () => Promise<number | null>;
  /** The sharer left the roster and its connection has been silent since: called once. */
  onGone: () => void;
  /** How often the connection is checked while the sharer is missing from the roster. */
  probeMs?: number;
  /** Silence that, with the sharer missing from the roster, means it is gone. */
  quietMs?: number;
}

/**
 * Tells within seconds that a sharer is gone. The signaling server sees a dead sharer's socket
 * close at once and takes `terminal` off its roster entry, while the QUIC connection would notice
 * only at its idle timeout. The roster alone is no proof (the sharer's signaling may drop while its
 * terminal works, or the server restart), so the connection must also have been silent for
 * `quietMs`: attach-terminal's keep-alives (1 s) make a live sharer answer every second.
 */
export class SharerWatch {
  private readonly probeMs: number;
  private readonly quietMs: number;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private last: number | null = null;
  private lastChange = 0;
  private done = false;

  constructor(private readonly opts: SharerWatchOptions) {
    this.probeMs = opts.probeMs ?? 500;
    this.quietMs = opts.quietMs ?? 3_000;
    opts.roster.on('members', this.onMembers);
  }

  stop(): void {
    this.done = true;
    this.opts.roster.off('members', this.onMembers);
    this.stopProbing();
  }

  private readonly onMembers = (room: string, members: Member[]): void => {
    if (this.done || room !== this.opts.room) return;
    const sharing = members.some(
      (m) => m.agent_id === this.opts.sharer && m.capabilities.includes(TERMINAL_STREAM),
    );
    if (sharing) this.stopProbing();
    else if (!this.probing) {
      this.probing = true;
      this.last = null;
      this.lastChange = Date.now();
      void this.probe();
    }
  };

  private stopProbing(): void {
    this.probing = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    const count = await this.opts.received().catch(() => null);
    if (!this.probing || this.done) return;
    const now = Date.now();
    if (count !== null && count !== this.last) {
      // The first answer is the baseline; any later packet means the sharer is alive.
      if (this.last !== null) this.lastChange = now;
      this.last = count;
    }
    if (now - this.lastChange >= this.quietMs) {
      this.stop();
      this.opts.onGone();
      return;
    }
    this.timer = setTimeout(() => void this.probe(), this.probeMs);
  }
}
