import type { Binding, UdpBatchNative } from './binding.js';
import type { DatagramHandler, ReceiveOptions } from './types.js';

/** A read with GRO can hold up to 64 KiB of coalesced datagrams. */
const GRO_SLOT = 65536;
const DEFAULT_SLAB = 1 << 20;
/** recvmmsg calls per wake-up before other events get their turn (the poll is level-triggered). */
const DRAINS_PER_WAKEUP = 16;

/** Reads with recvmmsg into one reused slab and hands each datagram, GRO ones split, to a handler. */
export class BatchReceiver {
  private readonly slab: Buffer;
  private readonly slotSize: number;
  private readonly slots: number;
  private readonly records: Int32Array;
  /** Source addresses by slot, kept current by the addon: no string per datagram. */
  private readonly names: string[];
  private readonly recordInts: number;
  private active = true;
  /** Messages recvmmsg returned. */
  reads = 0;

  constructor(
    private readonly native: UdpBatchNative,
    limits: Binding['limits'],
    gro: boolean,
    private readonly onDatagram: DatagramHandler,
    options: ReceiveOptions,
  ) {
    this.slotSize = gro ? GRO_SLOT : (options.maxDatagramSize ?? 65535);
    const slabBytes = options.slabBytes ?? DEFAULT_SLAB;
    this.slots = Math.max(1, Math.min(limits.maxBatch, Math.floor(slabBytes / this.slotSize)));
    this.slab = Buffer.allocUnsafeSlow(this.slots * this.slotSize);
    this.recordInts = limits.recordInts;
    this.records = new Int32Array(this.slots * limits.recordInts);
    this.names = new Array<string>(limits.sourceSlots).fill('');
  }

  /** Stops deliveries, even in the middle of a batch (the handler may call it). */
  stop(): void {
    this.active = false;
  }

  /** Called by the poll watcher: reads until the socket is empty or this turn's budget is spent. */
  readonly onReadable = (): void => {
    for (let round = 0; round < DRAINS_PER_WAKEUP && this.active; round++) {
      const count = this.native.drain(this.slab, this.slotSize, this.records, this.names);
      this.reads += count;
      this.deliver(count);
      if (count < this.slots) return;
    }
  };

  private deliver(count: number): void {
    const { records, recordInts, slab, names, onDatagram } = this;
    for (let i = 0; i < count && this.active; i++) {
      const r = i * recordInts;
      const offset = records[r]!;
      const end = offset + records[r + 1]!;
      const segment = records[r + 2]!;
      const port = records[r + 3]!;
      const address = names[records[r + 4]!]!;
      if (segment === 0) {
        onDatagram(slab, offset, 0, address, port);
        continue;
      }
      for (let at = offset; at < end && this.active; at += segment)
        onDatagram(slab, at, Math.min(segment, end - at), address, port);
    }
  }
}
