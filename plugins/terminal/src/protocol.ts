import { defineMessage, type HeaderSchema, type MessageRegistry } from '@mesh-agent/host';
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

const COLS = { type: 'integer', minimum: 1, maximum: MAX_COLS } as const;
const ROWS = { type: 'integer', minimum: 1, maximum: MAX_ROWS } as const;
const AGENT_ID = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' } as const;
const TEXT = { type: 'string', maxLength: 512 } as const;
/** A header without fields besides `type`. */
const NO_FIELDS = { type: 'object', additionalProperties: false, required: [], properties: {} } as const;

export type SnapshotHeader = {
  type: typeof TERM_SNAPSHOT;
  cols: number;
  rows: number;
  /** Agent id of the sharer. */
  owner: string;
  /** Agent id that holds control, or null. */
  controller: string | null;
  reason: 'join' | 'resync';
};

export const TermSnapshot = defineMessage<SnapshotHeader>(
  TERM_SNAPSHOT,
  // ajv's JSONSchemaType cannot spell a required `T | null` field (it maps null to optional).
  <HeaderSchema<SnapshotHeader>>{
    type: 'object',
    additionalProperties: false,
    required: ['cols', 'rows', 'owner', 'controller', 'reason'],
    properties: {
      cols: COLS,
      rows: ROWS,
      owner: AGENT_ID,
      controller: { anyOf: [AGENT_ID, { type: 'null' }] },
      reason: { type: 'string', enum: ['join', 'resync'] },
    },
  },
  { body: 'optional', maxBody: MAX_SNAPSHOT },
);

export const TermOut = defineMessage<{ type: typeof TERM_OUT }>(TERM_OUT, NO_FIELDS, {
  body: 'required',
  maxBody: MAX_OUTPUT_CHUNK,
});
export const TermIn = defineMessage<{ type: typeof TERM_IN }>(TERM_IN, NO_FIELDS, {
  body: 'required',
  maxBody: MAX_INPUT_CHUNK,
});
export const TermControlRequest = defineMessage<{ type: typeof TERM_CONTROL_REQUEST }>(
  TERM_CONTROL_REQUEST,
  NO_FIELDS,
);

export const TermResize = defineMessage<{ type: typeof TERM_RESIZE; cols: number; rows: number }>(
  TERM_RESIZE,
  {
    type: 'object',
    additionalProperties: false,
    required: ['cols', 'rows'],
    properties: { cols: COLS, rows: ROWS },
  },
);

export const TermControlGrant = defineMessage<{ type: typeof TERM_CONTROL_GRANT; agent_id: string }>(
  TERM_CONTROL_GRANT,
  { type: 'object', additionalProperties: false, required: ['agent_id'], properties: { agent_id: AGENT_ID } },
);

export const TermControlRevoke = defineMessage<{
  type: typeof TERM_CONTROL_REVOKE;
  agent_id: string;
  /** ajv's JSONSchemaType makes optional fields nullable. */
  reason?: string | null;
}>(TERM_CONTROL_REVOKE, {
  type: 'object',
  additionalProperties: false,
  required: ['agent_id'],
  properties: { agent_id: AGENT_ID, reason: { ...TEXT, nullable: true } },
});

export const TermNotice = defineMessage<{ type: typeof TERM_NOTICE; code: NoticeCode; message: string }>(
  TERM_NOTICE,
  {
    type: 'object',
    additionalProperties: false,
    required: ['code', 'message'],
    properties: { code: { type: 'string', enum: NOTICE_CODES }, message: TEXT },
  },
);

/** Who ended a share: the owner on purpose (Ctrl-] q, a signal to share-terminal), or the program itself. */
export const ENDED_BY = ['owner', 'program'] as const;
export type EndedBy = (typeof ENDED_BY)[number];

export type ExitHeader = {
  type: typeof TERM_EXIT;
  /** The program's exit code; null when a signal ended it. */
  code: number | null;
  signal: number | null;
  by: EndedBy;
};

export const TermExit = defineMessage<ExitHeader>(TERM_EXIT, <HeaderSchema<ExitHeader>>{
  type: 'object',
  additionalProperties: false,
  required: ['code', 'signal', 'by'],
  properties: {
    code: { anyOf: [{ type: 'integer', minimum: -2147483648, maximum: 2147483647 }, { type: 'null' }] },
    signal: { anyOf: [{ type: 'integer', minimum: 0, maximum: 255 }, { type: 'null' }] },
    by: { type: 'string', enum: ENDED_BY },
  },
});

/** What a viewer accepts from the owner. */
export const OWNER_MESSAGES = [
  TermSnapshot,
  TermOut,
  TermResize,
  TermControlGrant,
  TermControlRevoke,
  TermNotice,
  TermExit,
] as const;

/** Header schemas of every frame of a `terminal` stream, registered once per host. */
export function registerTerminalMessages(messages: MessageRegistry): void {
  messages.add(
    TermSnapshot,
    TermOut,
    TermIn,
    TermResize,
    TermControlRequest,
    TermControlGrant,
    TermControlRevoke,
    TermNotice,
    TermExit,
  );
}
