import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Received bytes live in ArrayBuffers outside V8's heap: datagrams on the driver's thread (one per
 * datagram, from node:dgram) and stream chunks on the main thread. A transfer allocates little on
 * the heap itself, so scavenges are rare, and V8 otherwise collects such buffers only once 64 MB
 * of them has built up: a receiver's RSS carried up to 64 MB of chunks it had long consumed. A
 * scavenge (young-generation GC) every few MB received frees them as they go; it takes ~50 µs
 * when, as here, almost nothing survives.
 */
const BYTES_PER_SCAVENGE = 4 * 1024 * 1024;

type Scavenge = () => void;
let scavenge: Scavenge | null | undefined;

/** V8's gc() from a fresh context (the flag only exposes it to contexts created afterwards), or null. */
function scavenger(): Scavenge | null {
  if (scavenge !== undefined) return scavenge;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as ((options: { type: 'minor' }) => void) | undefined;
    scavenge = typeof gc === 'function' ? () => gc({ type: 'minor' }) : null;
  } catch {
    scavenge = null;
  }
  return scavenge;
}

/** Counts received bytes and runs a scavenge every BYTES_PER_SCAVENGE of them. */
export class ScavengePacer {
  private sinceLast = 0;

  constructor(private readonly everyBytes = BYTES_PER_SCAVENGE) {}

  received(bytes: number): void {
    this.sinceLast += bytes;
    if (this.sinceLast < this.everyBytes) return;
    this.sinceLast = 0;
    scavenger()?.();
  }
}
