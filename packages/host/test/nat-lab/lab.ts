/**
 * NAT lab: real Linux network namespaces, veth pairs, bridges and iptables NAT, so tests can run real
 * processes behind NAT routers. Needs root, iproute2 and iptables; see README.md beside this file.
 *
 * Nothing here touches the root namespace's links, routes, sysctls or iptables: every link is created
 * directly inside the lab's namespaces (`ip -n NS link add … peer … netns OTHER`).
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';

/**
 * `eim`: MASQUERADE, the source port is kept where free (endpoint-independent mapping in practice).
 * `edm`: MASQUERADE --random-fully, a new random port per destination (endpoint-dependent, "symmetric").
 * `none`: plain routing; the site's LAN gets routable "public" addresses (203.0.113.0/24).
 */
export type NatKind = 'eim' | 'edm' | 'none';

export interface SiteSpec {
  nat: NatKind;
  /** The router drops all forwarded UDP (both ways); TCP still works. */
  blockUdp?: boolean;
  /** Accept new connections from the WAN to the LAN as well. Only useful with `nat: 'none'`. */
  openInbound?: boolean;
  /** Names of the hosts on this site's LAN (one namespace each). */
  hosts: string[];
}

export interface LabSpec {
  /** Site name → site. Site names name the router nodes; host names are unique across the lab. */
  sites: Record<string, SiteSpec>;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface SiteInfo {
  name: string;
  nat: NatKind;
  blockUdp: boolean;
  openInbound: boolean;
  /** The router's address on the internet segment (the NAT's public address). */
  wanAddress: string;
  /** The router's address on the LAN (the hosts' default gateway). */
  lanAddress: string;
  /** The LAN in CIDR notation. */
  lan: string;
  hosts: string[];
}

export interface Lab {
  /** Every namespace of this lab is named `${prefix}-${node}`. */
  readonly prefix: string;
  /** The iptables command the routers were set up with (`iptables`, `iptables-nft` or `iptables-legacy`). */
  readonly iptables: string;
  /** The first address of the pub namespace, where servers run. */
  readonly serverAddress: string;
  /** All addresses of the pub namespace (two, for tests that need a second public IP). */
  readonly serverAddresses: readonly string[];
  /** Node names: `pub`, every site (its router) and every host. */
  readonly nodes: readonly string[];
  readonly sites: readonly SiteInfo[];
  /** The namespace name of a node (for `ip netns exec` by hand). */
  ns(node: string): string;
  /** A host's LAN address (or the router's LAN address for a site, `serverAddress` for `pub`). */
  address(node: string): string;
  /** The public (WAN) address of a site's router, by site or host name. */
  publicAddress(siteOrHost: string): string;
  site(siteOrHost: string): SiteInfo;
  /** Spawns `command args` inside a node's namespace via `ip netns exec`. Killed on teardown. */
  spawn(node: string, command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs a command to completion inside a node's namespace; never rejects on a non-zero exit code. */
  exec(node: string, command: string, args?: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * NAT rebinding at a site's router, as when a mapping expires or a router restarts: every UDP
   * flow loses its mapping, and the next packet of each gets a new one from `ports` ('lo-hi').
   * Needs `conntrack` (Debian: conntrack).
   */
  rebind(siteOrHost: string, ports: string): Promise<void>;
  /** Kills every process in the lab's namespaces and deletes them. Idempotent. */
  teardown(): Promise<void>;
}

/** The internet segment. */
const PUB_NET = '198.51.100';
const PUB_PREFIX_LEN = 24;
const SERVER_ADDRESSES = [`${PUB_NET}.1`, `${PUB_NET}.2`];
const NS_PREFIX = 'natlab';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$/;
const NS_RE = /^natlab-(\d+)-([0-9a-z]+)-/;

// ---------------------------------------------------------------------------------------------------------
// Availability

export type NatLabAvailability =
  | { ok: true; iptables: string; version: string }
  | { ok: false; reason: string };

let availability: NatLabAvailability | undefined;

function commandWorks(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function errorText(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message?: string };
  const stderr = e.stderr ? String(e.stderr).trim() : '';
  return stderr || e.message || String(err);
}

/**
 * Whether labs can be built here: root, `ip` and an iptables that works inside a fresh namespace (NAT with
 * --random-fully, conntrack match). Probes once per process. `NAT_LAB_IPTABLES` forces the iptables command.
 */
export function natLabAvailable(): NatLabAvailability {
  availability ??= probe();
  return availability;
}

function probe(): NatLabAvailability {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root' };
  if (commandWorks('ip', ['-V']) === undefined) return { ok: false, reason: '`ip` (iproute2) not found' };
  const forced = process.env.NAT_LAB_IPTABLES;
  const candidates = forced ? [forced] : ['iptables', 'iptables-nft', 'iptables-legacy'];
  const present = candidates.filter((c) => commandWorks(c, ['-V']) !== undefined);
  if (present.length === 0)
    return { ok: false, reason: `${candidates.join(' / ')} not found (Debian: apt-get install iptables)` };
  sweepStaleLabs();
  const ns = `${NS_PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
  } catch (err) {
    return { ok: false, reason: `ip netns add failed: ${errorText(err)}` };
  }
  const failures: string[] = [];
  try {
    for (const cmd of present) {
      try {
        execFileSync('ip', ['netns', 'exec', ns, `${cmd}-restore`, '-w'], {
          input: routerRules({ nat: 'edm', blockUdp: true, openInbound: false }),
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        return { ok: true, iptables: cmd, version: commandWorks(cmd, ['-V']) ?? cmd };
      } catch (err) {
        failures.push(`${cmd}: ${errorText(err)}`);
        // Flush what the attempt left, so the next candidate starts from an empty namespace.
        for (const table of ['filter', 'nat'])
          commandWorks('ip', ['netns', 'exec', ns, cmd, '-t', table, '-F']);
      }
    }
    return { ok: false, reason: `iptables does not work in a namespace: ${failures.join('; ')}` };
  } finally {
    commandWorks('ip', ['netns', 'del', ns]);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Router rules

/** The router's whole ruleset, for `iptables-restore`. Interfaces: `wan` (internet), `lan` (bridge). */
function routerRules(site: { nat: NatKind; blockUdp: boolean; openInbound: boolean }): string {
  const filter = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    // Nothing from the WAN reaches the router itself (so nothing answers either: no ICMP port unreachable,
    // no RST). Accepting a stray packet confirms a conntrack entry for it, which holds the tuple a later
    // outbound flow needs; depending on the kernel the NAT then remaps that flow to another port.
    '-A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A INPUT -i wan -j DROP',
    ...(site.blockUdp
      ? ['-A FORWARD -i lan -o wan -p udp -j DROP', '-A FORWARD -i wan -o lan -p udp -j DROP']
      : []),
    '-A FORWARD -i lan -o lan -j ACCEPT',
    '-A FORWARD -i lan -o wan -j ACCEPT',
    '-A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    ...(site.openInbound ? ['-A FORWARD -i wan -o lan -j ACCEPT'] : []),
    'COMMIT',
  ];
  const masquerade = {
    eim: ['-A POSTROUTING -o wan -j MASQUERADE'],
    edm: ['-A POSTROUTING -o wan -j MASQUERADE --random-fully'],
    none: [],
  }[site.nat];
  const nat = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  nat.push(':POSTROUTING ACCEPT [0:0]', ...masquerade, 'COMMIT');
  return `${[...filter, ...nat].join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Commands

function run(cmd: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a setup command and throws with its stderr when it fails. */
async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(cmd, args, { input });
  if (r.code !== 0)
    throw new Error(
      `nat-lab: \`${cmd} ${args.join(' ')}\` failed (${r.code ?? r.signal}): ${r.stderr.trim()}`,
    );
  return r.stdout;
}

/** `ip -n NS -batch -` with the given lines (one process for all of them). */
function ipBatch(ns: string, lines: string[]): Promise<string> {
  return must('ip', ['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
}

/** Shell lines that set sysctls inside the namespace they run in; keys that do not exist there are skipped. */
function sysctlLines(values: Record<string, string | number>): string[] {
  return Object.entries(values).map(([key, value]) => {
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    return `if [ -e ${path} ]; then echo ${value} > ${path}; fi`;
  });
}

const BRIDGE_NF_OFF = {
  // With br_netfilter loaded, bridged frames would go through iptables (and conntrack) in the bridge's
  // namespace; the lab's bridges are plain switches.
  'net.bridge.bridge-nf-call-iptables': 0,
  'net.bridge.bridge-nf-call-ip6tables': 0,
  'net.bridge.bridge-nf-call-arptables': 0,
};

function netnsList(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The processes whose network namespace is one of the named ones (what `ip netns pids` does, for many). */
function pidsIn(namespaces: readonly string[]): number[] {
  const inodes = new Set<number>();
  for (const ns of namespaces) {
    try {
      inodes.add(statSync(`/run/netns/${ns}`).ino);
    } catch {}
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (inodes.has(statSync(`/proc/${entry}/ns/net`).ino)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

const netnsDelBatch = (namespaces: readonly string[]) => namespaces.map((ns) => `netns del ${ns}\n`).join('');

/** Kills every process inside the namespaces and deletes them, synchronously (for exit and stale labs). */
function destroySync(namespaces: readonly string[]): void {
  killAll(pidsIn(namespaces));
  try {
    execFileSync('ip', ['-force', '-batch', '-'], { input: netnsDelBatch(namespaces), stdio: 'pipe' });
  } catch {}
}

/** Deletes the namespaces of labs whose process is gone (a run that was killed before its teardown). */
export function sweepStaleLabs(): void {
  const stale = netnsList().filter((ns) => {
    const m = NS_RE.exec(ns);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  if (stale.length > 0) destroySync(stale);
}

const liveLabs = new Set<LabImpl>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const lab of liveLabs) lab.teardownSync();
  });
}

// ---------------------------------------------------------------------------------------------------------
// The lab

interface HostInfo {
  name: string;
  site: SiteInfo;
  address: string;
  /** The veth end on the router's LAN bridge. */
  port: string;
}

class LabImpl implements Lab {
  readonly serverAddress = SERVER_ADDRESSES[0]!;
  readonly serverAddresses = SERVER_ADDRESSES;
  readonly nodes: string[];
  readonly sites: SiteInfo[] = [];
  private readonly hosts = new Map<string, HostInfo>();
  private readonly children = new Set<ChildProcess>();
  private tornDown = false;

  constructor(
    readonly prefix: string,
    readonly iptables: string,
    spec: LabSpec,
  ) {
    const names = new Set<string>(['pub']);
    const claim = (name: string) => {
      if (!NAME_RE.test(name)) throw new Error(`nat-lab: bad node name ${JSON.stringify(name)}`);
      if (names.has(name)) throw new Error(`nat-lab: node name ${name} used twice`);
      names.add(name);
    };
    let natIndex = 0;
    let publicIndex = 0;
    for (const [name, s] of Object.entries(spec.sites)) {
      claim(name);
      if (s.hosts.length === 0) throw new Error(`nat-lab: site ${name} has no hosts`);
      const index = this.sites.length;
      if (index >= 200) throw new Error('nat-lab: at most 200 sites');
      let lan: string;
      let gateway: string;
      let hostAddress: (j: number) => string;
      if (s.nat === 'none') {
        // Routable LANs: 203.0.113.16k/28, router .16k+1, hosts from .16k+2 (at most 16 such sites).
        const base = 16 * publicIndex++;
        if (base >= 256 || s.hosts.length > 13)
          throw new Error('nat-lab: at most 16 nat:none sites of 13 hosts each');
        lan = `203.0.113.${base}/28`;
        gateway = `203.0.113.${base + 1}`;
        hostAddress = (j) => `203.0.113.${base + 2 + j}`;
      } else {
        // Private LANs: 10.0.N.0/24, router .1, hosts from .10.
        const n = ++natIndex;
        if (s.hosts.length > 200) throw new Error('nat-lab: at most 200 hosts per site');
        lan = `10.0.${n}.0/24`;
        gateway = `10.0.${n}.1`;
        hostAddress = (j) => `10.0.${n}.${10 + j}`;
      }
      const site: SiteInfo = {
        name,
        nat: s.nat,
        blockUdp: s.blockUdp ?? false,
        openInbound: s.openInbound ?? false,
        wanAddress: `${PUB_NET}.${11 + index}`,
        lanAddress: gateway,
        lan,
        hosts: [...s.hosts],
      };
      this.sites.push(site);
      s.hosts.forEach((h, j) => {
        claim(h);
        this.hosts.set(h, { name: h, site, address: hostAddress(j), port: `h${j}` });
      });
    }
    this.nodes = [...names];
  }

  ns(node: string): string {
    if (!this.nodes.includes(node)) throw new Error(`nat-lab: no node ${node}`);
    return `${this.prefix}-${node}`;
  }

  address(node: string): string {
    if (node === 'pub') return this.serverAddress;
    const host = this.hosts.get(node);
    if (host) return host.address;
    return this.site(node).lanAddress;
  }

  publicAddress(siteOrHost: string): string {
    return this.site(siteOrHost).wanAddress;
  }

  site(siteOrHost: string): SiteInfo {
    const site = this.hosts.get(siteOrHost)?.site ?? this.sites.find((s) => s.name === siteOrHost);
    if (!site) throw new Error(`nat-lab: no site or host ${siteOrHost}`);
    return site;
  }

  spawn(
    node: string,
    command: string,
    args: readonly string[] = [],
    options: SpawnOptions = {},
  ): ChildProcess {
    if (this.tornDown) throw new Error('nat-lab: lab already torn down');
    const child = spawn('ip', ['netns', 'exec', this.ns(node), command, ...args], options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  exec(node: string, command: string, args: readonly string[] = [], options: ExecOptions = {}) {
    if (this.tornDown) return Promise.reject(new Error('nat-lab: lab already torn down'));
    return run('ip', ['netns', 'exec', this.ns(node), command, ...args], options);
  }

  async rebind(siteOrHost: string, ports: string): Promise<void> {
    const site = this.site(siteOrHost);
    if (site.nat === 'none') throw new Error(`nat-lab: site ${site.name} has no NAT to rebind`);
    const masquerade = `-o wan -p udp -j MASQUERADE --to-ports ${ports}`;
    const script = [
      'command -v conntrack >/dev/null || { echo "conntrack not found (Debian: apt-get install conntrack)" >&2; exit 127; }',
      `${this.iptables} -w -t nat -I POSTROUTING 1 ${masquerade}${site.nat === 'edm' ? ' --random-fully' : ''}`,
      // Exits 1 when no flow matched: nothing to forget is no failure.
      'conntrack -D -p udp >/dev/null 2>&1 || true',
    ];
    await must('ip', ['netns', 'exec', this.ns(site.name), 'sh', '-e'], `${script.join('\n')}\n`);
  }

  /**
   * Builds the namespaces, links, addresses, routes and router rules. Every command costs a process, so the
   * work is batched: one `ip -batch` adds all namespaces; each router then creates its own links (WAN veth
   * with its peer in pub, one veth per host with the peer in the host as eth0) and loads its rules in one
   * shell; last, pub and every host configure their side, one `ip -batch` each.
   */
  async build(): Promise<void> {
    const pub = this.ns('pub');
    await must('ip', ['-batch', '-'], this.nodes.map((n) => `netns add ${this.ns(n)}\n`).join(''));

    const publicSites = this.sites.filter((s) => s.nat === 'none');
    const routesVia = (except?: SiteInfo) =>
      publicSites.filter((s) => s !== except).map((s) => `route add ${s.lan} via ${s.wanAddress}`);
    await Promise.all(
      this.sites.map((site, i) => {
        const links = [
          'link set lo up',
          `link add wan type veth peer name r${i} netns ${pub}`,
          'link add lan type bridge',
          `addr add ${site.wanAddress}/${PUB_PREFIX_LEN} dev wan`,
          `addr add ${site.lanAddress}/${site.lan.split('/')[1]} dev lan`,
          'link set wan up',
          'link set lan up',
          ...routesVia(site),
        ];
        for (const h of site.hosts) {
          const host = this.hosts.get(h)!;
          links.push(
            `link add ${host.port} type veth peer name eth0 netns ${this.ns(h)}`,
            `link set ${host.port} master lan`,
            `link set ${host.port} up`,
          );
        }
        const script = [
          ...sysctlLines({ 'net.ipv4.ip_forward': 1, ...BRIDGE_NF_OFF }),
          "ip -batch - <<'NAT_LAB_EOF'",
          ...links,
          'NAT_LAB_EOF',
          `${this.iptables}-restore -w <<'NAT_LAB_EOF'`,
          routerRules(site).trimEnd(),
          'NAT_LAB_EOF',
        ];
        return must('ip', ['netns', 'exec', this.ns(site.name), 'sh', '-e'], `${script.join('\n')}\n`);
      }),
    );

    await Promise.all([
      ipBatch(pub, [
        'link set lo up',
        'link add br0 type bridge',
        ...this.serverAddresses.map((a) => `addr add ${a}/${PUB_PREFIX_LEN} dev br0`),
        'link set br0 up',
        ...this.sites.flatMap((_, i) => [`link set r${i} master br0`, `link set r${i} up`]),
        ...routesVia(),
      ]),
      ...[...this.hosts.values()].map((host) =>
        ipBatch(this.ns(host.name), [
          'link set lo up',
          `addr add ${host.address}/${host.site.lan.split('/')[1]} dev eth0`,
          'link set eth0 up',
          `route add default via ${host.site.lanAddress}`,
        ]),
      ),
    ]);
  }

  private namespaces(): string[] {
    return netnsList().filter((ns) => ns.startsWith(`${this.prefix}-`));
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    liveLabs.delete(this);
    const exited = [...this.children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) resolve();
          else c.once('exit', () => resolve());
        }),
    );
    const namespaces = this.namespaces();
    for (const c of this.children) c.kill('SIGKILL');
    // And anything else running inside (grandchildren, processes started by hand).
    killAll(pidsIn(namespaces));
    await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 2000))]);
    if (namespaces.length > 0)
      await run('ip', ['-force', '-batch', '-'], { input: netnsDelBatch(namespaces) });
  }

  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    liveLabs.delete(this);
    for (const c of this.children) c.kill('SIGKILL');
    destroySync(this.namespaces());
  }
}

/**
 * Builds a lab: a `pub` namespace (the internet: 198.51.100.0/24 on a bridge, servers on .1 and .2), and per
 * site a router namespace (WAN 198.51.100.(11+i)) and one namespace per host on the site's LAN bridge.
 */
export async function createLab(spec: LabSpec): Promise<Lab> {
  const avail = natLabAvailable();
  if (!avail.ok) throw new Error(`nat-lab unavailable: ${avail.reason}`);
  sweepStaleLabs();
  const prefix = `${NS_PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const lab = new LabImpl(prefix, avail.iptables, spec);
  installExitHook();
  liveLabs.add(lab);
  try {
    await lab.build();
  } catch (err) {
    await lab.teardown();
    throw err;
  }
  return lab;
}
