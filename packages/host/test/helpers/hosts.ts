import { validateConfig } from '../../src/config/validate.js';
import { Host, type HostMode } from '../../src/host/host.js';
import { generateIdentity } from '../../src/identity/identity.js';
import { createLogger } from '../../src/log/logger.js';
import { definePlugin, type MeshPlugin } from '../../src/plugins/types.js';
import type { TempDirs } from './cli.js';

/** An echo stream type, the in-process twin of the CLI fixture plugin. */
export const echoPlugin: MeshPlugin = definePlugin({
  name: 'echo',
  apply(host) {
    host.messages.register(
      'ECHO',
      { type: 'object', properties: { n: { type: 'integer' } } },
      { body: 'optional' },
    );
    host.hooks.stream.for('echo').tapPromise('echo', async ({ channel }) => {
      for await (const frame of channel) await channel.send(frame.header, frame.body);
      await channel.end();
      return true;
    });
  },
});

/** A started host on loopback with a fresh identity, in this process. */
export async function startHost(
  dirs: TempDirs,
  agentId: string,
  opts: {
    plugins?: MeshPlugin[];
    quic?: Record<string, unknown>;
    p2p?: Record<string, unknown>;
    mode?: HostMode;
  } = {},
): Promise<Host> {
  const home = await dirs.make(`host-${agentId}-`);
  const config = validateConfig({
    filepath: '(test)',
    tree: {
      agent: { id: agentId, home },
      quic: { host: '127.0.0.1', port: 0, ...opts.quic },
      p2p: opts.p2p ?? {},
      log: { level: 'silent' },
    },
  });
  const host = new Host({
    config,
    home,
    identity: await generateIdentity(),
    agentId,
    log: createLogger('silent'),
    plugins: opts.plugins ?? [echoPlugin],
  });
  await host.applyPlugins();
  await host.start(opts.mode ?? 'daemon');
  return host;
}

/** A direct-mode grant on `responder` and the matching target for the initiator. */
export function directSession(
  responder: Host,
  sessionId: string,
  over: { peerId?: string; peerFingerprint?: string; ttlMs?: number; streamType?: string } = {},
) {
  const token = `token-${sessionId}-0123456789abcdef`;
  responder.acceptDirect({
    sessionId,
    token,
    expiresAt: Date.now() + (over.ttlMs ?? 60_000),
    peerId: over.peerId,
    peerFingerprint: over.peerFingerprint,
    streamType: over.streamType,
  });
  return {
    address: '127.0.0.1',
    port: responder.endpoint!.address().port,
    sessionId,
    token,
    fingerprint: responder.identity.fingerprint,
  };
}
