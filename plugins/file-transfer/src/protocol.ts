import { failureHeader, HEX_256, type MessageRegistry, strictHeader, UINT53 } from '@mesh-agent/host';

/** The data-plane stream type this plugin handles. */
export const FILE_STREAM = 'file';

/** Largest chunk body accepted on the wire (the frame limit is 1 MiB + 64 KiB). */
export const MAX_CHUNK = 1024 * 1024;
/** Smallest chunk size a sender may announce: tinier chunks only cost frames. */
export const MIN_CHUNK = 4 * 1024;
/** 1 MiB: a quarter of the frames, awaits and writes of 256 KiB chunks; measured faster end to end. */
export const DEFAULT_CHUNK = 1024 * 1024;

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
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export interface FileMetaHeader {
  type: typeof FILE_META;
  /** A plain file name, no directories; the receiver checks it again (names.ts). */
  name: string;
  size: number;
  /** Permission bits (0o777 at most). */
  mode: number;
  /** Modification time, ms since the epoch. */
  mtime: number;
  chunk_size: number;
}

const FAILURE = failureHeader(FAILURE_CODES);

/** Header schemas of every frame of a `file` stream, registered once per host. */
export function registerFileMessages(messages: MessageRegistry): void {
  messages.register(
    FILE_META,
    strictHeader(['name', 'size', 'mode', 'mtime', 'chunk_size'], {
      // Bytes are checked by names.ts; 1024 characters only bounds the work before that.
      name: { type: 'string', maxLength: 1024 },
      size: UINT53,
      mode: { type: 'integer', minimum: 0, maximum: 0o7777 },
      mtime: { type: 'number', minimum: 0 },
      chunk_size: { type: 'integer', minimum: 1, maximum: MAX_CHUNK },
    }),
  );
  messages.register(FILE_ACCEPT, strictHeader([], {}));
  messages.register(
    FILE_RESUME,
    strictHeader(['offset', 'prefix_hash'], { offset: UINT53, prefix_hash: HEX_256 }),
  );
  messages.register(FILE_REJECT, FAILURE);
  messages.register(FILE_START, strictHeader(['offset'], { offset: UINT53 }));
  messages.register(FILE_CHUNK, strictHeader(['offset'], { offset: UINT53 }), {
    body: 'required',
    maxBody: MAX_CHUNK,
  });
  messages.register(FILE_DONE, strictHeader(['hash'], { hash: HEX_256 }));
  messages.register(FILE_ABORT, FAILURE);
  messages.register(
    FILE_VERIFIED,
    strictHeader(['hash', 'saved_as'], { hash: HEX_256, saved_as: { type: 'string' } }),
  );
  messages.register(FILE_FAILED, FAILURE);
}

export { TransferError } from './outcome.js';
