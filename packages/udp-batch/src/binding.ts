import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The addon's class (native/addon.c). */
export interface UdpBatchNative {
  readonly gso: boolean;
  /** errno that turned GSO off (0: never used, or disabled by option). */
  readonly gsoOffErrno: number;
  /** errno that stopped the last send or drain short (0: none). */
  readonly lastErrno: number;
  /** Datagrams drain dropped: larger than a slot. */
  readonly truncated: number;
  /** sendmsg/sendmmsg calls made. */
  readonly sendCalls: number;
  sendSegments(
    buf: Uint8Array,
    offset: number,
    length: number,
    segmentSize: number,
    address: string,
    port: number,
  ): number;
  sendMany(packets: readonly OutgoingDatagram[], start: number, count: number): number;
  /** 0, or the errno that refused it. */
  setGro(on: boolean): number;
  drain(slab: Uint8Array, slotSize: number, records: Int32Array, names: string[]): number;
  poll(onReadable: (() => void) | null): void;
  close(): void;
}

export interface OutgoingDatagram {
  buf: Uint8Array;
  offset: number;
  length: number;
  address: string;
  port: number;
}

export interface Binding {
  UdpBatchNative: new (fd: number, gso: boolean) => UdpBatchNative;
  limits: {
    /** Datagrams per sendmmsg / recvmmsg. */
    maxBatch: number;
    /** Segments per GSO send. */
    gsoMaxSegments: number;
    /** Payload bytes per GSO send. */
    gsoMaxBytes: number;
    /** Ints per drained message: offset, length, segment size, port, source slot. */
    recordInts: number;
    /** Size of the names array drain keeps. */
    sourceSlots: number;
  };
  /** Tests only: makes the kernel refuse GSO on the socket of fd (SO_NO_CHECK). */
  refuseGso(fd: number): void;
}

const ADDON = '../build/Release/udp_batch.node';
const BUILD_FAILURE = new URL('../build/unavailable.txt', import.meta.url);

let loaded: Binding | string | undefined;

/** The addon, or why it cannot be used. Loaded once per thread. */
export function loadBinding(): Binding | string {
  loaded ??= load();
  return loaded;
}

function load(): Binding | string {
  if (process.platform !== 'linux') return `${process.platform} has no sendmmsg/UDP GSO`;
  try {
    return createRequire(import.meta.url)(ADDON) as Binding;
  } catch (error) {
    try {
      return `the addon was not built: ${readFileSync(BUILD_FAILURE, 'utf8').trim()}`;
    } catch {
      return `the addon did not load: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}
