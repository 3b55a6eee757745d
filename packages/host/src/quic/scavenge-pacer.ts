import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Received bytes live in ArrayBuffers outside V8's heap: datagrams on the driver's thread (one per
 * datagram, from node:dgram) and stream chunks on the main thread. A transfer allocates little on
 * the heap itself, so scavenges are rare, and V8 otherwise collects such buffers only once 64 MB
 * of them has built up: a receiver's RSS carried up to 64 MB of chunks it had long consumed. A
 * scavenge (young-generation GC) every few MB received frees them as they go. Each took 0.8–1.0 ms
 * here (`--trace-gc`, freeing the buffers included), about 0.2 s per GiB and thread, and still
 * saves CPU: without it, receiving 1 GiB cost 3.0–3.9 s of user time instead of 2.4–2.8, since
 * the external memory then triggers full collections.
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
