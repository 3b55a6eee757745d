import { defineMessage, HEX_256, type MessageRegistry, UINT53 } from '@mesh-agent/host';
import { MAX_CHUNK } from './chunk-sizes.js';

/** The data-plane stream type this plugin handles. */
export const FILE_STREAM = 'file';

export { DEFAULT_CHUNK, MAX_CHUNK, MIN_CHUNK } from './chunk-sizes.js';

// Sender → receiver.
export const FILE_META = 'FILE_META';
export const FILE_START = 'FILE_START';
export const FILE_CHUNK = 'FILE_CHUNK';
export const FILE_DONE = 'FILE_DONE';
export const FILE_ABORT = 'FILE_ABORT';
// Receiver → sender.
export const FILE_ACCEPT = 'FILE_ACCEPT';
export const FILE_RESUME = 'FILE_RESUME';
export const FILE_REJECT = 'FILE_REJECT';
export const FILE_VERIFIED = 'FILE_VERIFIED';
export const FILE_FAILED = 'FILE_FAILED';

/** Why a transfer was refused or failed; both ends print the reason, tools branch on the code. */
export const FAILURE_CODES = [
  'NOT_ALLOWED',
  'BAD_NAME',
  'BAD_META',
  'TOO_LARGE',
  'NO_SPACE',
  'PROTOCOL',
  'HASH_MISMATCH',
  'CHANGED',
  'SUPERSEDED',
  'IO_ERROR',
  /** The sender's user stopped it (Ctrl-C): the receiver keeps the part file for a resume. */
  'CANCELLED',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export type FileMetaHeader = {
  type: typeof FILE_META;
  /** A plain file name, no directories; the receiver checks it again (names.ts). */
  name: string;
  size: number;
  /** Permission bits (0o777 at most). */
  mode: number;
  /** Modification time, ms since the epoch. */
  mtime: number;
  chunk_size: number;
};

export const FileMeta = defineMessage<FileMetaHeader>(FILE_META, {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'size', 'mode', 'mtime', 'chunk_size'],
  properties: {
    // Bytes are checked by names.ts; 1024 characters only bounds the work before that.
    name: { type: 'string', maxLength: 1024 },
    size: UINT53,
    mode: { type: 'integer', minimum: 0, maximum: 0o7777 },
    mtime: { type: 'number', minimum: 0 },
    chunk_size: { type: 'integer', minimum: 1, maximum: MAX_CHUNK },
  },
});

export const FileAccept = defineMessage<{ type: typeof FILE_ACCEPT }>(FILE_ACCEPT, {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {},
});

type Offset<T extends string> = { type: T; offset: number };
const offset = {
  type: 'object',
  additionalProperties: false,
  required: ['offset'],
  properties: { offset: UINT53 },
} as const;
export const FileStart = defineMessage<Offset<typeof FILE_START>>(FILE_START, offset);
export const FileChunk = defineMessage<Offset<typeof FILE_CHUNK>>(FILE_CHUNK, offset, {
  body: 'required',
  maxBody: MAX_CHUNK,
});

export const FileResume = defineMessage<{ type: typeof FILE_RESUME; offset: number; prefix_hash: string }>(
  FILE_RESUME,
  {
    type: 'object',
    additionalProperties: false,
    required: ['offset', 'prefix_hash'],
    properties: { offset: UINT53, prefix_hash: HEX_256 },
  },
);

export const FileDone = defineMessage<{ type: typeof FILE_DONE; hash: string }>(FILE_DONE, {
  type: 'object',
  additionalProperties: false,
  required: ['hash'],
  properties: { hash: HEX_256 },
});

export const FileVerified = defineMessage<{ type: typeof FILE_VERIFIED; hash: string; saved_as: string }>(
  FILE_VERIFIED,
  {
    type: 'object',
    additionalProperties: false,
    required: ['hash', 'saved_as'],
    properties: { hash: HEX_256, saved_as: { type: 'string' } },
  },
);

type Failure<T extends string> = { type: T; code: FailureCode; reason: string };
const failure = {
  type: 'object',
  additionalProperties: false,
  required: ['code', 'reason'],
  properties: { code: { type: 'string', enum: FAILURE_CODES }, reason: { type: 'string', maxLength: 1024 } },
} as const;
export const FileReject = defineMessage<Failure<typeof FILE_REJECT>>(FILE_REJECT, failure);
export const FileAbort = defineMessage<Failure<typeof FILE_ABORT>>(FILE_ABORT, failure);
export const FileFailed = defineMessage<Failure<typeof FILE_FAILED>>(FILE_FAILED, failure);

/** Header schemas of every frame of a `file` stream, registered once per host. */
export function registerFileMessages(messages: MessageRegistry): void {
  messages.add(
    FileMeta,
    FileAccept,
    FileResume,
    FileReject,
    FileStart,
    FileChunk,
    FileDone,
    FileAbort,
    FileVerified,
    FileFailed,
  );
}

export { TransferError } from './outcome.js';
