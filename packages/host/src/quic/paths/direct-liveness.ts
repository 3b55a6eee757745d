/** When a direct path counts as dead; tests shorten it. */
export interface LivenessTiming {
  /** Sending with nothing heard back from the direct address this long makes it suspect… */
  silenceMs: number;
  /** …then this many signed probes to it, this far apart, all unanswered, make it dead. */
  confirmProbes: number;
  confirmIntervalMs: number;
}

export interface LivenessHooks {
  /** Send one signed probe to the direct address. */
  probe(): void;
  /** Silence confirmed: the direct path no longer carries packets. */
  dead(): void;
}

/** Checks per silence period while packets are owed: coarse, so sends and receives only set flags. */
const TICKS_PER_SILENCE = 5;

/**
 * Whether a direct path still carries packets. Cheap per packet (flags only); a timer runs only
 * while we sent something nothing answered yet. Silence alone only makes the path suspect: the
 * verdict rests on signed probes, so packets from a spoofed source can at most delay it, never
 * cause it, and an idle connection costs one answered probe, not a fallback.
 */
export class DirectLiveness {
  /** A packet went out since anything came back. */
  #owed = false;
  #heard = false;
  #answered = false;
  #quietTicks = 0;
  /** Probes sent to confirm the silence; above 0 while confirming. */
  #probes = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #tickMs: number;

  constructor(
    private readonly timing: LivenessTiming,
    private readonly hooks: LivenessHooks,
  ) {
    this.#tickMs = Math.max(1, Math.round(timing.silenceMs / TICKS_PER_SILENCE));
  }

  /** Confirming the silence with probes: the path has been quiet for `silenceMs` at least. */
  get confirming(): boolean {
    return this.#probes > 0;
  }

  /** We sent on the direct path. */
  sent(): void {
    this.#owed = true;
    if (this.#timer === undefined) this.#arm(this.#tickMs);
  }

  /** A packet came from the direct address (QUIC: may be spoofed, so it only postpones suspicion). */
  heard(): void {
    this.#heard = true;
    this.#owed = false;
  }

  /** A signed probe answer came from the direct address: the path works. */
  answered(): void {
    this.heard();
    this.#answered = true;
  }

  /** Evidence from elsewhere (the peer sends on the relay): confirm now instead of after the silence. */
  suspect(): void {
    if (this.#probes > 0) return;
    clearTimeout(this.#timer);
    this.#answered = false;
    this.#confirm();
  }

  /** A new direct path, or none: forget everything. */
  reset(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#owed = this.#heard = this.#answered = false;
    this.#quietTicks = this.#probes = 0;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#probes > 0) this.#confirm();
      else this.#watch();
    }, ms);
  }

  #watch(): void {
    if (this.#heard) this.#quietTicks = 0;
    else if (this.#owed) this.#quietTicks++;
    this.#heard = false;
    if (this.#quietTicks * this.#tickMs >= this.timing.silenceMs) {
      this.#answered = false;
      this.#confirm();
    } else if (this.#owed || this.#quietTicks > 0) this.#arm(this.#tickMs);
  }

  #confirm(): void {
    if (this.#answered) {
      this.reset();
      return;
    }
    if (this.#probes >= this.timing.confirmProbes) {
      this.reset();
      this.hooks.dead();
      return;
    }
    this.#probes++;
    this.hooks.probe();
    this.#arm(this.timing.confirmIntervalMs);
  }
}
