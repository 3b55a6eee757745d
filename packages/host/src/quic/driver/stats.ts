import type { Connection } from '@matrixai/quic/native/index.js';
import type { BatchUdp } from '@mesh-agent/udp-batch';
import type { ConnectionStats, EndpointStats, UdpIoStats } from '../protocol.js';

/** The endpoint's datagram counters, kept by the receive and send paths. */
export type DriverCounters = Omit<EndpointStats, 'connections' | 'udp'>;

export function newCounters(): DriverCounters {
  return {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    droppedDatagrams: 0,
    retriesSent: 0,
    droppedProbes: 0,
    refusedConnections: 0,
  };
}

export function endpointStats(
  connections: number,
  counters: DriverCounters,
  io: BatchUdp | null,
): EndpointStats {
  return { connections, ...counters, udp: udpIoStats(io) };
}

function udpIoStats(io: BatchUdp | null): UdpIoStats {
  if (!io)
    return { path: 'dgram', whyNotGso: 'no socket', gro: false, batched: 0, sendCalls: 0, handedOff: 0 };
  const { batched, calls, handedOff } = io.counters;
  return {
    path: io.path,
    whyNotGso: io.unavailableReason ?? io.gsoOffReason,
    gro: io.gro,
    batched,
    sendCalls: calls,
    handedOff,
  };
}

export function connectionStats(q: Connection): ConnectionStats {
  const s = q.stats();
  const path = q.pathStats()[0];
  return {
    rttMs: path ? path.rtt : 0,
    cwnd: path ? path.cwnd : 0,
    sentPackets: s.sent,
    recvPackets: s.recv,
    lostPackets: s.lost,
    retransmittedPackets: s.retrans,
    sentBytes: s.sentBytes,
    recvBytes: s.recvBytes,
    lostBytes: s.lostBytes,
    deliveryRate: path ? path.deliveryRate : 0,
    pmtu: path ? path.pmtu : 0,
  };
}
