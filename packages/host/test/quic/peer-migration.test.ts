import type { PathEvent, PathStats } from '@matrixai/quic/native/index.js';
import { describe, expect, it } from 'vitest';
import { ConnectionTable } from '../../src/quic/driver/connection-table.js';
import { activePeerAfterPathEvents } from '../../src/quic/driver/peer-migration.js';

const at = (port: number) => ({ host: '10.0.0.2', port });
const path = (port: number, active: boolean) => ({ peerHost: at(port), active }) as PathStats;

/** A quiche connection with queued path events and paths, counting how often paths were read. */
function quiche(events: PathEvent[], paths: PathStats[]) {
  let statsCalls = 0;
  return {
    q: {
      pathEventNext: () => events.shift() ?? (null as unknown as PathEvent),
      pathStats: () => {
        statsCalls++;
        return paths;
      },
    },
    events,
    statsCalls: () => statsCalls,
  };
}

describe('activePeerAfterPathEvents', () => {
  it('without path events: null, and the paths are not read', () => {
    const { q, statsCalls } = quiche([], [path(1, true)]);
    expect(activePeerAfterPathEvents(q)).toBeNull();
    expect(statsCalls()).toBe(0);
  });

  it('after events: drains them all and answers the active path, whatever the events say', () => {
    const events: PathEvent[] = [
      { type: 'New', local: at(9), peer: at(2) },
      { type: 'PeerMigrated', old: at(9), new: at(2) },
    ];
    const { q } = quiche(events, [path(1, false), path(2, true)]);
    expect(activePeerAfterPathEvents(q)).toEqual(at(2));
    expect(events).toEqual([]);
  });
});

describe('ConnectionTable.move', () => {
  const fakeQuiche = {} as never;
  const local = { host: '0.0.0.0', port: 4433 };

  it('moves an incoming connection between addresses in the admission counts, and its receive address', () => {
    const table = new ConnectionTable();
    const conn = table.add(
      fakeQuiche,
      'server',
      'k1',
      { address: '198.51.100.7', port: 1 },
      local,
      null,
      null,
    );
    table.add(fakeQuiche, 'server', 'k2', { address: '198.51.100.7', port: 2 }, local, null, null);
    table.move(conn, { address: '203.0.113.9', port: 3 });
    expect(table.incoming('198.51.100.7')).toEqual({ total: 2, fromAddress: 1 });
    expect(table.incoming('203.0.113.9')).toEqual({ total: 2, fromAddress: 1 });
    expect(conn.recvInfo.from).toEqual({ host: '203.0.113.9', port: 3 });
    table.remove(conn);
    expect(table.incoming('203.0.113.9')).toEqual({ total: 1, fromAddress: 0 });
  });

  it('leaves the counts alone for a connection we opened', () => {
    const table = new ConnectionTable();
    const conn = table.add(fakeQuiche, 'client', 'k1', { address: '198.51.100.7', port: 1 }, local, 1, null);
    table.move(conn, { address: '203.0.113.9', port: 3 });
    expect(table.incoming('203.0.113.9')).toEqual({ total: 0, fromAddress: 0 });
    expect(conn.remote).toEqual({ address: '203.0.113.9', port: 3 });
  });
});
