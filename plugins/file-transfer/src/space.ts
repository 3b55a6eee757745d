import { statfs } from 'node:fs/promises';

/** Space held for one transfer until it ends; `release` may be called more than once. */
export interface Reservation {
  readonly bytes: number;
  release(): void;
}

/** Why a transfer cannot have the space it needs: a message for both ends. */
export class NoSpaceError extends Error {}

/**
 * The space that transfers in progress (files and folders) hold together. A transfer reserves
 * what it still has to write before it is accepted, so two transfers that each fit alone but
 * not together are not both accepted: the later one is refused up front, before a byte is sent.
 * Bytes already written count twice (on disk and still reserved) until the transfer ends: the
 * error is on the safe side.
 */
export class SpaceReservations {
  private held = 0;

  constructor(
    private readonly dir: string,
    /** The most bytes transfers in progress may hold together (`maxInFlightBytes`). */
    private readonly quota: number,
  ) {}

  /** Reserves `bytes`, or throws a NoSpaceError that says what is missing. */
  async reserve(bytes: number): Promise<Reservation> {
    const stats = await statfs(this.dir);
    const free = stats.bavail * stats.bsize;
    // No await from here on: the check and the reservation are one step.
    if (this.held + bytes > this.quota)
      throw new NoSpaceError(
        `transfers in progress hold ${this.held} of the ${this.quota} bytes this agent receives at once ` +
          `(maxInFlightBytes); ${bytes} more do not fit, try again once they are done`,
      );
    if (free - this.held < bytes)
      throw new NoSpaceError(
        `not enough space in the download directory: ${bytes} bytes needed, ${free} free` +
          (this.held > 0 ? ` of which transfers in progress hold ${this.held}` : ''),
      );
    this.held += bytes;
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.held -= bytes;
      },
    };
  }
}
