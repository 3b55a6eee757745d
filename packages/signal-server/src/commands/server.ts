import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  DEFAULT_SIGNAL_PORT,
  ExplainedCommand,
  LOG_LEVELS,
  SESSION_TTL_DEFAULT_S,
  SESSION_TTL_MAX_S,
  SESSION_TTL_MIN_S,
  untilSignal,
} from '@mesh-agent/host';
import { Flags } from '@oclif/core';
import type { TokenEntry } from '../auth.js';
import { relayLimitFlags, relayLimitsOf, signalLimitFlags, signalLimitsOf } from '../cli/limit-flags.js';
import { cannotListen } from '../cli/listen-error.js';
import { redactedUrl } from '../cluster/redis-client.js';
import { LimitsError } from '../limits.js';
import { loadRelaySecret, RELAY_SECRET_ENV, RelayGrantError } from '../relay/grants.js';
import { SignalServer, SignalServerConfigError } from '../server.js';
import { parseTokenFile, parseTokenList, TokenParseError } from '../tokens.js';

const TOKENS_ENV = 'MESH_SIGNAL_TOKENS';
const DATA_DIR_ENV = 'MESH_SIGNAL_DATA_DIR';
const REDIS_ENV = 'MESH_SIGNAL_REDIS';

/** Where the server keeps identity bindings unless told otherwise (XDG state directory). */
function defaultDataDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'mesh-agent', 'signal-server');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export default class Server extends ExplainedCommand {
  static override summary = 'Run the reference signaling server: rooms, presence and P2P session tokens.';

  static override description = [
    'Agents connect over WebSocket, authenticate with a bearer token, see each other per room and ask for P2P sessions; the server mints a short-lived session token for both sides and relays plugin events between agents of a room.',
    `Tokens come from --token, --token-file (one spec per line) and ${TOKENS_ENV} (comma separated). A spec is "[agentId:]token [rooms=team+ops|*] [fingerprint=<sha256>]": agentId: binds the token to one agent id, rooms= names the rooms its holder may join (default: only "default"), fingerprint= pins the id to one certificate. Without tokens the server refuses to start unless --open is given (any agent, any room).`,
    `Every agent proves at hello that it holds the key of its certificate. An agent id belongs to the first key that uses it (ids of the form agent-<fingerprint prefix> belong to that key from the start); another key claiming it is refused. Bindings persist in --data-dir (${DATA_DIR_ENV}); delete an entry from bindings.json there to release an id.`,
    "Agents behind NAT: the server answers STUN on two UDP ports (--stun-port and the next one; by default the same number as --port), so agents learn their public address and NAT kind, and it relays QUIC packets over WebSocket on /relay of its own port for sessions whose agents cannot punch through (--no-relay to turn that off, --relay-url to name a separate `mesh-agent relay` sharing --relay-secret-file). The relay forwards ciphertext only: agents still pin each other's certificates end to end.",
    `Several nodes: start each with --redis redis://host:port (or ${REDIS_ENV}; a password in the URL stays out of logs) and the same tokens. They share rooms, presence (entries expire --presence-ttl seconds after their node stops refreshing them), session brokering, relayed events and identity bindings (kept in Redis instead of --data-dir). If Redis goes away a node serves its own agents and catches up when it returns; GET /healthz says which. Agents list several servers in signaling.url and move to another when theirs goes.`,
    'GET /healthz answers JSON (load, Redis state) and GET /metrics Prometheus text on the same port.',
    'Logs go to stderr; stdout gets only the listen URL (or JSON with --json). A failure to start reads `error: …` and `hint: …` on stderr, or {"error": {"code", "message", "hint"}} on stdout with --json; exit 2 for bad flags, 1 otherwise. SIGINT or SIGTERM stops the server cleanly.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> <%= command.id %> --token-file ./tokens.txt',
    `<%= config.bin %> <%= command.id %> --host 0.0.0.0 --port ${DEFAULT_SIGNAL_PORT} --token "$(openssl rand -base64 32)"`,
    `${TOKENS_ENV}=alice:tok-alice-0123456789,bob:tok-bob-0123456789 <%= config.bin %> <%= command.id %> --json`,
    '<%= config.bin %> <%= command.id %> --open --port 0   # any agent, trusted network only',
    '<%= config.bin %> <%= command.id %> --host 0.0.0.0 --port 443 --tls-cert fullchain.pem --tls-key privkey.pem --token-file tokens.txt',
  ];

  static override flags = {
    port: Flags.integer({
      char: 'p',
      description: 'TCP port to listen on (0 picks a free one)',
      default: DEFAULT_SIGNAL_PORT,
      min: 0,
      max: 65535,
    }),
    host: Flags.string({ description: 'interface to listen on', default: '127.0.0.1' }),
    open: Flags.boolean({
      description:
        'accept any agent without a token, in any room (loopback only unless --allow-open-network)',
      default: false,
    }),
    'allow-open-network': Flags.boolean({
      description: 'let --open listen on a non-loopback address: anyone who reaches the port gets in',
      default: false,
    }),
    'data-dir': Flags.string({
      description: `directory for identity bindings (default: $XDG_STATE_HOME/mesh-agent/signal-server, or ${DATA_DIR_ENV})`,
    }),
    token: Flags.string({
      description: 'accepted bearer token, or agentId:token (repeatable)',
      multiple: true,
    }),
    'token-file': Flags.file({
      description: 'file with one token (or agentId:token) per line',
      exists: true,
    }),
    'session-ttl': Flags.integer({
      description: `lifetime of minted P2P session tokens, in seconds (${SESSION_TTL_MIN_S}–${SESSION_TTL_MAX_S})`,
      default: SESSION_TTL_DEFAULT_S,
      min: SESSION_TTL_MIN_S,
      max: SESSION_TTL_MAX_S,
    }),
    'log-level': Flags.option({
      description: 'log level (stderr)',
      options: LOG_LEVELS,
      default: 'info' as const,
    })(),
    'stun-port': Flags.integer({
      description:
        'first of the two UDP ports answering STUN (default: the same number as --port; 0: free ones)',
      min: 0,
      max: 65534,
    }),
    stun: Flags.boolean({ description: 'answer STUN on UDP (--no-stun: off)', default: true, allowNo: true }),
    relay: Flags.boolean({
      description: 'offer a relay to sessions that cannot punch through (--no-relay: off)',
      default: true,
      allowNo: true,
    }),
    'relay-url': Flags.string({
      description: 'a separate relay (mesh-agent relay) to hand out instead of running one here',
    }),
    'relay-session-rate': relayLimitFlags.sessionRate(),
    'relay-session-max-bytes': relayLimitFlags.sessionMaxBytes(),
    'relay-max-sessions-per-agent': relayLimitFlags.maxSessionsPerAgent(),
    ...signalLimitFlags,
    'relay-secret-file': Flags.file({
      description: `secret shared with a separate relay (else ${RELAY_SECRET_ENV}; a built-in relay makes its own)`,
      exists: true,
    }),
    'tls-cert': Flags.file({
      description: 'PEM certificate (chain) to serve wss:// — signaling and the relay on one port',
      exists: true,
      dependsOn: ['tls-key'],
    }),
    'tls-key': Flags.file({
      description: 'PEM private key for --tls-cert',
      exists: true,
      dependsOn: ['tls-cert'],
    }),
    redis: Flags.string({
      description: `share rooms, presence and sessions with other nodes through this Redis (redis://host:port; else ${REDIS_ENV})`,
    }),
    'presence-ttl': Flags.integer({
      description: "with --redis: seconds a node's agents stay listed after the node stops refreshing them",
      default: 15,
      min: 1,
      max: 3600,
    }),
    json: Flags.boolean({ description: 'print the listen address as JSON', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Server);
    const tokens = await this.collectTokens(flags.token ?? [], flags['token-file']);
    if (!flags.open && tokens.length === 0) {
      this.error(
        `no tokens configured: pass --token, --token-file or ${TOKENS_ENV}, or --open to accept any agent (trusted networks only)`,
        { exit: 2 },
      );
    }
    if (flags.open && !isLoopback(flags.host) && !flags['allow-open-network']) {
      this.error(
        `--open on ${flags.host} would let anyone who reaches the port in; use tokens, or add --allow-open-network if you mean it`,
        { exit: 2 },
      );
    }
    const dataDir = flags['data-dir'] ?? process.env[DATA_DIR_ENV] ?? defaultDataDir();
    const relay = await this.relayOptions(flags.relay, flags['relay-url'], flags['relay-secret-file']);
    const redisUrl = flags.redis ?? process.env[REDIS_ENV];
    if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl))
      this.error(`--redis must be a redis:// or rediss:// URL, got "${redactedUrl(redisUrl)}"`, { exit: 2 });
    const stunPort = flags['stun-port'] ?? flags.port;
    const stunPorts = flags.stun ? ([stunPort, stunPort === 0 ? 0 : stunPort + 1] as const) : undefined;
    const log = createLogger(flags['log-level'], 'signal-server');
    let server: SignalServer;
    try {
      server = new SignalServer({
        host: flags.host,
        port: flags.port,
        open: flags.open,
        tokens: flags.open ? [] : tokens,
        sessionTtlS: flags['session-ttl'],
        dataDir,
        stunPorts,
        ...(relay
          ? {
              relay: {
                ...relay,
                limits: relayLimitsOf({
                  sessionRate: flags['relay-session-rate'],
                  sessionMaxBytes: flags['relay-session-max-bytes'],
                  maxSessionsPerAgent: flags['relay-max-sessions-per-agent'],
                }),
              },
            }
          : {}),
        limits: signalLimitsOf(flags),
        ...(redisUrl ? { redis: { url: redisUrl, presenceTtlMs: flags['presence-ttl'] * 1000 } } : {}),
        ...(flags['tls-cert'] && flags['tls-key']
          ? {
              tls: {
                cert: await readFile(flags['tls-cert'], 'utf8'),
                key: await readFile(flags['tls-key'], 'utf8'),
              },
            }
          : {}),
        log,
      });
    } catch (error) {
      if (error instanceof SignalServerConfigError || error instanceof LimitsError)
        this.error(error.message, { exit: 2 });
      throw error;
    }
    if (flags.open && tokens.length > 0) log.warn({}, '--open given: configured tokens are ignored');
    if (redisUrl && relay && relay.url === undefined)
      log.warn(
        {},
        'each node runs its own relay: sessions relayed between agents on different nodes need a shared one (--relay-url and --relay-secret-file)',
      );
    let listening: Awaited<ReturnType<SignalServer['start']>>;
    try {
      listening = await server.start();
    } catch (error) {
      throw cannotListen(flags.host, flags.port, error);
    }
    // Listen for signals before saying we are up: whoever reads that line may stop us at once.
    const stopped = untilSignal();
    if (flags.json) {
      this.log(
        JSON.stringify({
          url: listening.url,
          address: listening.address,
          port: listening.port,
          open: flags.open,
          session_ttl_s: flags['session-ttl'],
          stun_ports: listening.stunPorts ?? null,
          relay_url: listening.relayUrl ?? null,
          redis: redisUrl ? redactedUrl(redisUrl) : null,
        }),
      );
    } else {
      this.log(
        `signal server listening on ${listening.url}${flags.open ? ' (open: no authentication)' : ''}`,
      );
    }
    const signal = await stopped;
    log.info({ signal }, 'shutting down');
    await server.stop();
  }

  private async relayOptions(
    enabled: boolean,
    url: string | undefined,
    secretFile: string | undefined,
  ): Promise<{ secret: Buffer; url?: string } | undefined> {
    if (!enabled) return undefined;
    let secret: Buffer | undefined;
    try {
      secret = await loadRelaySecret(secretFile);
    } catch (error) {
      if (error instanceof RelayGrantError) this.error(error.message, { exit: 2 });
      throw error;
    }
    if (url !== undefined) {
      if (!/^wss?:\/\//.test(url))
        this.error(`--relay-url must start with ws:// or wss://, got "${url}"`, { exit: 2 });
      if (!secret)
        this.error(`--relay-url needs the relay's secret: --relay-secret-file or ${RELAY_SECRET_ENV}`, {
          exit: 2,
        });
      return { secret, url };
    }
    // A built-in relay only checks grants this process minted: a fresh secret will do.
    return { secret: secret ?? randomBytes(32) };
  }

  private async collectTokens(flagTokens: string[], tokenFile: string | undefined): Promise<TokenEntry[]> {
    try {
      const entries = parseTokenList(flagTokens, '--token');
      const fromEnv = process.env[TOKENS_ENV];
      if (fromEnv) entries.push(...parseTokenList([fromEnv], TOKENS_ENV));
      if (tokenFile) entries.push(...parseTokenFile(await readFile(tokenFile, 'utf8'), tokenFile));
      return entries;
    } catch (error) {
      if (error instanceof TokenParseError) this.error(error.message, { exit: 2 });
      throw error;
    }
  }
}
