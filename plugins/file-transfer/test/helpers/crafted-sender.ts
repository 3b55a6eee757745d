import { createHost, type FrameChannel, type Host, validateConfig } from '@mesh-agent/host';
import { createBLAKE3 } from 'hash-wasm';
import { FILE_STREAM, registerFileMessages } from '../../src/protocol.js';

/**
 * A misbehaving sender for protocol tests: an in-process host (own temp home, real QUIC) that
 * speaks the `file` protocol frame by frame, so tests can send what a correct sender never would.
 */
export class CraftedSender {
  private constructor(readonly host: Host) {}

  static async start(home: string, serverUrl: string): Promise<CraftedSender> {
    const config = validateConfig(
      {
        filepath: '(test)',
        tree: { agent: { home }, signaling: { url: serverUrl }, log: { level: 'error' } },
      },
      {},
      [],
    );
    const host = await createHost({ config, home, plugins: [] });
    registerFileMessages(host.messages);
    await host.start('oneshot');
    return new CraftedSender(host);
  }

  async open(agentId: string): Promise<FrameChannel> {
    const { channel } = await this.host.openStream({ agentId }, FILE_STREAM);
    return channel;
  }

  async stop(): Promise<void> {
    await this.host.stop();
  }
}

export async function blake3Hex(...parts: Uint8Array[]): Promise<string> {
  const hasher = await createBLAKE3();
  hasher.init();
  for (const part of parts) hasher.update(part);
  return hasher.digest('hex');
}

export function meta(name: string, size: number, extra: Record<string, unknown> = {}) {
  return {
    type: 'FILE_META',
    name,
    size,
    mode: 0o644,
    mtime: 1_700_000_000_000,
    chunk_size: 65_536,
    ...extra,
  };
}

/** The receiver's answers until it ends the stream (or the stream breaks), as header objects. */
export async function answers(channel: FrameChannel): Promise<Array<Record<string, unknown>>> {
  const seen: Array<Record<string, unknown>> = [];
  try {
    for await (const frame of channel) seen.push(frame.header);
  } catch (error) {
    seen.push({ type: 'ERROR', message: (error as Error).message });
  }
  return seen;
}
