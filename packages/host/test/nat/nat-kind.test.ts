import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/nat/ip.js';
import { classifyNat, discoverNatKind } from '../../src/nat/nat-kind.js';

const servers: [Endpoint, Endpoint] = [
  { address: '203.0.113.1', port: 3478 },
  { address: '203.0.113.1', port: 3479 },
];
const local: Endpoint[] = [
  { address: '192.168.1.20', port: 50_000 },
  { address: '127.0.0.1', port: 50_000 },
];
const mapped = { address: '198.51.100.7', port: 61_000 };

describe('classifyNat', () => {
  it.each<[string, [Endpoint | undefined, Endpoint | undefined], string]>([
    ['no answer', [undefined, undefined], 'udp-blocked'],
    ['the socket’s own address from both', [local[0], { ...local[0]! }], 'none'],
    ['the socket’s own address from one, the other silent', [undefined, local[0]], 'none'],
    [
      'a dual-stack spelling of the own address',
      [{ address: '::ffff:192.168.1.20', port: 50_000 }, local[0]],
      'none',
    ],
    ['the same mapping from both', [mapped, { ...mapped }], 'endpoint-independent'],
    ['another port from the second', [mapped, { ...mapped, port: 61_001 }], 'endpoint-dependent'],
    [
      'another address from the second',
      [mapped, { ...mapped, address: '198.51.100.8' }],
      'endpoint-dependent',
    ],
    ['a mapping from one, the other silent', [mapped, undefined], 'unknown'],
    [
      'the local address with another port',
      [
        { ...local[0]!, port: 1 },
        { ...local[0]!, port: 1 },
      ],
      'endpoint-independent',
    ],
  ])('%s → %s', (_, answers, kind) => {
    expect(classifyNat(answers, local)).toBe(kind);
  });
});

describe('discoverNatKind', () => {
  it('asks both servers, in parallel, and reports their answers in order', async () => {
    const asked: Endpoint[] = [];
    const pending: Array<(endpoint: Endpoint | undefined) => void> = [];
    const binding = (server: Endpoint) => {
      asked.push(server);
      return new Promise<Endpoint | undefined>((resolve) => pending.push(resolve));
    };
    const discovery = discoverNatKind(binding, servers, local);
    expect(asked).toEqual(servers);
    pending[1]!({ ...mapped, port: 61_001 });
    pending[0]!(mapped);
    expect(await discovery).toEqual({
      kind: 'endpoint-dependent',
      mapped: [mapped, { ...mapped, port: 61_001 }],
    });
  });

  it('reports udp-blocked when nothing answers', async () => {
    expect(await discoverNatKind(async () => undefined, servers, local)).toEqual({
      kind: 'udp-blocked',
      mapped: [undefined, undefined],
    });
  });
});
