import { definePlugin, type FrameChannel } from '@mesh-agent/host';
import { attachCommand } from './attach-command.js';
import { type TerminalConfig, terminalConfigSchema } from './config.js';
import { INVITE_EVENT, TERMINAL_EVENTS, TERMINAL_STREAM } from './constants.js';
import { registerTerminalMessages } from './protocol.js';

export { type TerminalConfig, terminalConfigSchema } from './config.js';
export { INVITE_EVENT, TERMINAL_EVENTS, TERMINAL_STREAM } from './constants.js';
export * from './protocol.js';

const AGENT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** What the terminal plugin offers its commands. */
export interface TerminalApi {
  /**
   * Serves this process's `terminal` streams with `attach` (the sharer). Call before the host
   * starts, so that the stream type is advertised.
   */
  serveViewers(attach: (viewer: string, channel: FrameChannel) => Promise<void>): void;
  /**
   * The first `terminal` stream a sharer opens to this process (reverse direct mode); the stream
   * is held until its channel closes.
   */
  nextSharer(): Promise<FrameChannel>;
  /** Tells an agent, through the signaling server, that it may attach to this agent's terminal. */
  invite(agentId: string): Promise<void>;
}

/**
 * The terminal plugin: frame types of `terminal` streams, the events of a share, and invitations.
 * The `terminal` stream handler itself is installed by the commands only (TerminalApi), in the
 * sharing process: the daemon has no terminal to show, so it never advertises the stream type.
 */
export default definePlugin({
  name: 'terminal',
  configSchema: terminalConfigSchema,
  apply(host, _config: TerminalConfig): TerminalApi {
    registerTerminalMessages(host.messages);
    host.declareEvent(TERMINAL_EVENTS.shared, 'a terminal is shared: { owner, cols, rows, command }');
    host.declareEvent(TERMINAL_EVENTS.viewerJoined, 'a viewer attached: { viewer, viewers }');
    host.declareEvent(TERMINAL_EVENTS.viewerLeft, 'a viewer left: { viewer, viewers, reason }');
    host.declareEvent(TERMINAL_EVENTS.controlRequested, 'a viewer asks for control: { viewer }');
    host.declareEvent(TERMINAL_EVENTS.controlGranted, 'the owner gave control: { viewer }');
    host.declareEvent(TERMINAL_EVENTS.controlRevoked, 'the owner took control back: { viewer }');
    host.declareEvent(
      TERMINAL_EVENTS.invited,
      'another agent invites this one to watch its terminal: { from }',
      ({ from }) => `${from} invites you to a terminal: ${attachCommand(String(from), host)}`,
    );
    host.declareEvent(
      TERMINAL_EVENTS.ended,
      'the share ended: { code, signal, by } (by: owner when the owner ended it, else program)',
    );
    host.hooks.event.for(INVITE_EVENT).tap('terminal', (envelope) => {
      const from = (envelope.data as { from?: unknown }).from;
      if (typeof from !== 'string' || !AGENT_ID.test(from)) return;
      // The person reads the event's line (run prints it); the log keeps a record for collectors.
      host.log.info({ from }, 'terminal invitation received');
      host.emit(TERMINAL_EVENTS.invited, { from });
    });
    const streams = host.hooks.stream.for(TERMINAL_STREAM);
    const api: TerminalApi = {
      serveViewers(attach) {
        streams.tapPromise('terminal', async ({ peer, channel }) => {
          await attach(peer.agentId, channel);
          return true;
        });
      },
      nextSharer() {
        return new Promise<FrameChannel>((resolve) => {
          streams.tapPromise('terminal', async ({ channel }) => {
            const closed = new Promise((done) => channel.duplex.once('close', done));
            resolve(channel);
            await closed;
            return true;
          });
        });
      },
      invite: (agentId) => host.relay(agentId, INVITE_EVENT),
    };
    return Object.freeze(api);
  },
});
