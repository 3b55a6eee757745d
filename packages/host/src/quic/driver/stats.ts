import type { Connection } from '@matrixai/quic/native/index.js';
import type { ConnectionStats, EndpointStats } from '../protocol.js';

/** The endpoint's datagram counters, kept by the receive and send paths. */
export type DriverCounters = Omit<EndpointStats, 'connections'>;

export function newCounters(): DriverCounters {
  return {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    droppedDatagrams: 0,
    retriesSent: 0,
    droppedProbes: 0,
  };
}

export function endpointStats(connections: number, counters: DriverCounters): EndpointStats {
  return { connections, ...counters };
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
