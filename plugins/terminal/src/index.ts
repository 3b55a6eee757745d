import { definePlugin, type PluginHost } from '@mesh-agent/host';
import { type TerminalConfig, terminalConfigSchema } from './config.js';
import { INVITE_EVENT, TERMINAL_EVENTS } from './constants.js';
import { registerTerminalMessages } from './protocol.js';

export { type TerminalConfig, terminalConfig, terminalConfigSchema } from './config.js';
export { INVITE_EVENT, TERMINAL_EVENTS, TERMINAL_STREAM } from './constants.js';
export * from './protocol.js';

const AGENT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The terminal plugin: frame types of `terminal` streams, the events of a share, and invitations.
 * The `terminal` stream handler itself is installed by `share-terminal` only, in the sharing
 * process: the daemon has no terminal to show, so it never advertises the stream type.
 */
export default definePlugin<TerminalConfig>({
  name: 'terminal',
  configSchema: terminalConfigSchema,
  apply(host: PluginHost) {
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
    );
    host.declareEvent(TERMINAL_EVENTS.ended, 'the shared program ended: { code, signal }');
    host.hooks.event.for(INVITE_EVENT).tap('terminal', (envelope) => {
      const from = (envelope.data as { from?: unknown }).from;
      if (typeof from !== 'string' || !AGENT_ID.test(from)) return;
      host.log.info(
        { from },
        `agent ${from} shares a terminal with you: run mesh-agent attach-terminal ${from}`,
      );
      host.emit(TERMINAL_EVENTS.invited, { from });
    });
  },
});
