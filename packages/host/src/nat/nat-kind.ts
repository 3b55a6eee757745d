import { type Endpoint, sameEndpoint } from './ip.js';

/**
 * How the path to the Internet treats the socket's UDP mappings (RFC 4787 terms):
 * - none: the server sees the socket's own address, so there is no NAT;
 * - endpoint-independent: one mapping for every destination, so a peer can reach it at the
 *   address the server reports (hole punching works);
 * - endpoint-dependent: a new mapping per destination, so the reported address is of no use to a
 *   peer;
 * - unknown: only one of the two servers answered, which cannot tell the two apart;
 * - udp-blocked: neither answered.
 */
export type NatKind = 'none' | 'endpoint-independent' | 'endpoint-dependent' | 'unknown' | 'udp-blocked';

/** The reflexive address of the socket as one server sees it, or undefined without an answer. */
export type BindingProbe = (server: Endpoint) => Promise<Endpoint | undefined>;

export interface NatDiscovery {
  kind: NatKind;
  /** The mapped address from each server, in the order the servers were given. */
  mapped: [Endpoint | undefined, Endpoint | undefined];
}

/**
 * Asks two server endpoints (best one IP, two ports) in parallel for the socket's mapped address
 * and classifies the answers; `local` are the socket's own addresses (every interface address
 * with the socket's port for a wildcard bind).
 */
export async function discoverNatKind(
  binding: BindingProbe,
  servers: readonly [Endpoint, Endpoint],
  local: readonly Endpoint[],
): Promise<NatDiscovery> {
  const mapped = await Promise.all([binding(servers[0]), binding(servers[1])]);
  return { kind: classifyNat(mapped, local), mapped };
}

/** The NatKind for the mapped addresses two servers reported (undefined: no answer). */
export function classifyNat(
  mapped: readonly [Endpoint | undefined, Endpoint | undefined],
  local: readonly Endpoint[],
): NatKind {
  const answers = mapped.filter((m) => m !== undefined);
  if (answers.length === 0) return 'udp-blocked';
  if (answers.every((m) => local.some((l) => sameEndpoint(m, l)))) return 'none';
  if (answers.length === 1) return 'unknown';
  return sameEndpoint(answers[0]!, answers[1]!) ? 'endpoint-independent' : 'endpoint-dependent';
}
