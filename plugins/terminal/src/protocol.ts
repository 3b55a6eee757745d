import { type MessageRegistry, strictHeader } from '@mesh-agent/host';
import { MAX_COLS, MAX_INPUT_CHUNK, MAX_OUTPUT_CHUNK, MAX_ROWS, MAX_SNAPSHOT } from './constants.js';

// Owner → viewer.
/** The current screen (serialized headless terminal): first frame of every stream, and after a resync. */
export const TERM_SNAPSHOT = 'TERM_SNAPSHOT';
/** PTY output bytes, in order. */
export const TERM_OUT = 'TERM_OUT';
export const TERM_CONTROL_GRANT = 'TERM_CONTROL_GRANT';
export const TERM_CONTROL_REVOKE = 'TERM_CONTROL_REVOKE';
/** Something the viewer should tell its user (read-only, resync, refused …). */
export const TERM_NOTICE = 'TERM_NOTICE';
/** The shared program ended; the last frame of the stream. */
export const TERM_EXIT = 'TERM_EXIT';
// Viewer → owner.
export const TERM_IN = 'TERM_IN';
export const TERM_CONTROL_REQUEST = 'TERM_CONTROL_REQUEST';
// Both ways: the controller asks for a size; the owner announces the PTY's new size.
export const TERM_RESIZE = 'TERM_RESIZE';

export const NOTICE_CODES = ['read_only', 'resync', 'control_denied', 'not_invited', 'dropped'] as const;
export type NoticeCode = (typeof NOTICE_CODES)[number];

export interface SnapshotHeader {
  type: typeof TERM_SNAPSHOT;
  cols: number;
  rows: number;
  /** Agent id of the sharer. */
  owner: string;
  /** Agent id that holds control, or null. */
  controller: string | null;
  reason: 'join' | 'resync';
}

export interface ResizeHeader {
  type: typeof TERM_RESIZE;
  cols: number;
  rows: number;
}

export interface ControlHeader {
  type: typeof TERM_CONTROL_GRANT | typeof TERM_CONTROL_REVOKE;
  agent_id: string;
  reason?: string;
}

export interface NoticeHeader {
  type: typeof TERM_NOTICE;
  code: NoticeCode;
  message: string;
}

export interface ExitHeader {
  type: typeof TERM_EXIT;
  /** The program's exit code; null when a signal ended it. */
  code: number | null;
  signal: number | null;
}

const COLS = { type: 'integer', minimum: 1, maximum: MAX_COLS } as const;
const ROWS = { type: 'integer', minimum: 1, maximum: MAX_ROWS } as const;
const AGENT_ID = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' } as const;
const TEXT = { type: 'string', maxLength: 512 } as const;

/** Header schemas of every frame of a `terminal` stream, registered once per host. */
export function registerTerminalMessages(messages: MessageRegistry): void {
  messages.register(
    TERM_SNAPSHOT,
    strictHeader(['cols', 'rows', 'owner', 'controller', 'reason'], {
      cols: COLS,
      rows: ROWS,
      owner: AGENT_ID,
      controller: { anyOf: [AGENT_ID, { type: 'null' }] },
      reason: { enum: ['join', 'resync'] },
    }),
    { body: 'optional', maxBody: MAX_SNAPSHOT },
  );
  messages.register(TERM_OUT, strictHeader([], {}), { body: 'required', maxBody: MAX_OUTPUT_CHUNK });
  messages.register(TERM_IN, strictHeader([], {}), { body: 'required', maxBody: MAX_INPUT_CHUNK });
  messages.register(TERM_RESIZE, strictHeader(['cols', 'rows'], { cols: COLS, rows: ROWS }));
  messages.register(TERM_CONTROL_REQUEST, strictHeader([], {}));
  messages.register(TERM_CONTROL_GRANT, strictHeader(['agent_id'], { agent_id: AGENT_ID }));
  messages.register(TERM_CONTROL_REVOKE, strictHeader(['agent_id'], { agent_id: AGENT_ID, reason: TEXT }));
  messages.register(
    TERM_NOTICE,
    strictHeader(['code', 'message'], { code: { enum: [...NOTICE_CODES] }, message: TEXT }),
  );
  messages.register(
    TERM_EXIT,
    strictHeader(['code', 'signal'], {
      code: { anyOf: [{ type: 'integer', minimum: -2147483648, maximum: 2147483647 }, { type: 'null' }] },
      signal: { anyOf: [{ type: 'integer', minimum: 0, maximum: 255 }, { type: 'null' }] },
    }),
  );
}
