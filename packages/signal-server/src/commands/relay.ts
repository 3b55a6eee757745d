import { createLogger, ExplainedCommand, LOG_LEVELS, untilSignal } from '@mesh-agent/host';
import { RELAY_PATH } from '@mesh-agent/host/nat';
import { Flags } from '@oclif/core';
import { relayLimitFlags, relayLimitsOf } from '../cli/limit-flags.js';
import { cannotListen } from '../cli/listen-error.js';
import { loadRelaySecret, RELAY_SECRET_ENV, RelayGrantError } from '../relay/grants.js';
import { RelayServer } from '../relay/relay-server.js';

const SECRET_ENV = RELAY_SECRET_ENV;

export default class Relay extends ExplainedCommand {
  static override summary =
    'Run the relay alone: forwards QUIC packets between two agents when hole punching fails.';

  static override description = [
    `Agents whose direct path fails bind a WebSocket on ${RELAY_PATH} with a relay grant the signal server minted for their P2P session; the relay then forwards their QUIC packets, as binary messages, between the two agents of that session. QUIC's TLS runs end to end: the relay reads and forges nothing.`,
    `The grants are signed with a secret shared with the signal server: --secret-file, or ${SECRET_ENV}; at least 32 bytes (surrounding whitespace is ignored). Without one the relay refuses to start.`,
    'Logs go to stderr; stdout gets only the listen URL (or JSON with --json). A failure to start reads `error: …` and `hint: …` on stderr, or {"error": {"code", "message", "hint"}} on stdout with --json; exit 2 for bad flags, 1 otherwise. SIGINT or SIGTERM stops the relay cleanly.',
  ].join('\n\n');

  static override examples = [
    'openssl rand -base64 48 > relay.secret && <%= config.bin %> <%= command.id %> --secret-file relay.secret',
    `${SECRET_ENV}="$(cat relay.secret)" <%= config.bin %> <%= command.id %> --host 0.0.0.0 --port 8791 --json`,
    '<%= config.bin %> <%= command.id %> --secret-file relay.secret --session-rate 4194304 --max-sessions-per-agent 4',
  ];

  static override flags = {
    port: Flags.integer({
      char: 'p',
      description: 'TCP port to listen on (0 picks a free one)',
      default: 8791,
      min: 0,
      max: 65535,
    }),
    host: Flags.string({ description: 'interface to listen on', default: '127.0.0.1' }),
    'secret-file': Flags.file({
      description: `file holding the grant secret shared with the signal server (else ${SECRET_ENV})`,
      exists: true,
    }),
    'session-rate': relayLimitFlags.sessionRate(),
    'session-max-bytes': relayLimitFlags.sessionMaxBytes(),
    'max-sessions-per-agent': relayLimitFlags.maxSessionsPerAgent(),
    'log-level': Flags.option({
      description: 'log level (stderr)',
      options: LOG_LEVELS,
      default: 'info' as const,
    })(),
    json: Flags.boolean({ description: 'print the listen address as JSON', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Relay);
    const secret = await this.readSecret(flags['secret-file']);
    const limits = relayLimitsOf({
      sessionRate: flags['session-rate'],
      sessionMaxBytes: flags['session-max-bytes'],
      maxSessionsPerAgent: flags['max-sessions-per-agent'],
    });
    const log = createLogger(flags['log-level'], 'relay');
    const relay = new RelayServer({ host: flags.host, port: flags.port, secret, limits, log });
    let listening: Awaited<ReturnType<RelayServer['start']>>;
    try {
      listening = await relay.start();
    } catch (error) {
      await relay.hub.close();
      throw cannotListen(flags.host, flags.port, error);
    }
    // Listen for signals before saying we are up: whoever reads that line may stop us at once.
    const stopped = untilSignal();
    this.log(
      flags.json
        ? JSON.stringify({ url: listening.url, address: listening.address, port: listening.port })
        : `relay listening on ${listening.url}`,
    );
    const signal = await stopped;
    log.info({ signal }, 'shutting down');
    await relay.stop();
  }

  private async readSecret(file: string | undefined): Promise<Buffer> {
    let secret: Buffer | undefined;
    try {
      secret = await loadRelaySecret(file);
    } catch (error) {
      if (error instanceof RelayGrantError) this.error(error.message, { exit: 2 });
      throw error;
    }
    if (secret) return secret;
    this.error(`no relay secret: pass --secret-file or set ${SECRET_ENV} (at least 32 bytes)`, { exit: 2 });
  }
}
