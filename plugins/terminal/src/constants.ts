/** The data-plane stream type of a shared terminal. */
export const TERMINAL_STREAM = 'terminal';

/** Control-plane event a sharer relays to the agent it invites (`share-terminal --to`). */
export const INVITE_EVENT = 'term.invite';

/** Events other plugins (notifications …) observe through `hooks.pluginEvent`. */
export const TERMINAL_EVENTS = {
  shared: 'terminal.shared',
  viewerJoined: 'terminal.viewer_joined',
  viewerLeft: 'terminal.viewer_left',
  controlRequested: 'terminal.control_requested',
  controlGranted: 'terminal.control_granted',
  controlRevoked: 'terminal.control_revoked',
  invited: 'terminal.invited',
  ended: 'terminal.ended',
} as const;

/** Largest TERM_OUT body: well under the 1 MiB frame limit, large enough to amortise frames. */
export const MAX_OUTPUT_CHUNK = 256 * 1024;
/** Largest TERM_IN body a viewer may send (keystrokes and pastes). */
export const MAX_INPUT_CHUNK = 64 * 1024;
/** Largest serialized screen; a bigger one is sent without attributes. */
export const MAX_SNAPSHOT = 1024 * 1024;
/** Terminal sizes both ends accept. */
export const MAX_COLS = 1000;
export const MAX_ROWS = 1000;
