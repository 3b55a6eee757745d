/**
 * Where a benchmark's two sides run. By default both on this machine over loopback; with `--lan`,
 * in two network namespaces on one bridge of 1500-MTU veth links (the NAT lab's plain-routed
 * site), as two machines on a LAN: datagrams are then the size a real link carries, and TCP keeps
 * the segmentation offloads a real NIC gives it. Each side's process starts under `ip netns exec`,
 * which keeps its pid, so RSS and CPU are measured as on loopback.
 */
import { createLab, type Lab, natLabAvailable } from '../../packages/host/test/nat-lab/lab.js';

export type Side = 'sender' | 'receiver';

export interface Placement {
  /** For titles: "over loopback", "over a 1500-MTU LAN …". */
  readonly label: string;
  readonly lan: boolean;
  /** Where each side listens or binds. */
  address(side: Side): string;
  /** `command args` as run on one side. */
  on(side: Side, command: string, args: readonly string[]): [string, string[]];
  close(): Promise<void>;
}

export const LOOPBACK: Placement = {
  label: 'over loopback',
  lan: false,
  address: () => '127.0.0.1',
  on: (_side, command, args) => [command, [...args]],
  close: async () => {},
};

/** `--lan` on the command line: a LAN placement, or undefined after saying why it cannot be built here. */
export async function placementFromArgs(argv: readonly string[]): Promise<Placement | undefined> {
  if (!argv.includes('--lan')) return LOOPBACK;
  const available = natLabAvailable();
  if (!available.ok) {
    process.stderr.write(`--lan skipped: ${available.reason}\n`);
    return undefined;
  }
  const lab: Lab = await createLab({ sites: { lan: { nat: 'none', hosts: ['sender', 'receiver'] } } });
  return {
    label: 'over a 1500-MTU LAN (two network namespaces, veth + bridge)',
    lan: true,
    address: (side) => lab.address(side),
    on: (side, command, args) => ['ip', ['netns', 'exec', lab.ns(side), command, ...args]],
    close: () => lab.teardown(),
  };
}
