import type { MessageRegistry } from '@mesh-agent/host';

/** The data-plane stream type this plugin handles. */
export const ZIP_STREAM = 'zip';
/** Largest ZIP_DATA body (the frame limit is 1 MiB + 64 KiB). */
export const MAX_DATA = 1024 * 1024;

// Sender → receiver.
export const ZIP_META = 'ZIP_META';
export const ZIP_DATA = 'ZIP_DATA';
export const ZIP_END = 'ZIP_END';
export const ZIP_ABORT = 'ZIP_ABORT';
// Receiver → sender.
export const ZIP_ACCEPT = 'ZIP_ACCEPT';
export const ZIP_REJECT = 'ZIP_REJECT';
export const ZIP_VERIFIED = 'ZIP_VERIFIED';
export const ZIP_FAILED = 'ZIP_FAILED';

/** Why a folder was refused or failed; both ends print the reason, tools branch on the code. */
export const FAILURE_CODES = [
  'NOT_ALLOWED',
  'BAD_NAME',
  'BAD_META',
  'TOO_LARGE',
  'NO_SPACE',
  'PROTOCOL',
  'BAD_ZIP',
  'UNSAFE_ENTRY',
  'CORRUPT',
  'TRUNCATED',
  'LIMIT',
  'HASH_MISMATCH',
  'CHANGED',
  'IO_ERROR',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export interface ZipMetaHeader {
  type: typeof ZIP_META;
  /** The folder's name: the ZIP's entries all start with `root/`. */
  root: string;
  files: number;
  dirs: number;
  /** Uncompressed bytes of all files. */
  bytes: number;
}

const HEX_256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const COUNT = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const REASON = { type: 'string', maxLength: 1024 } as const;
const FAILURE = {
  required: ['code', 'reason'],
  properties: { code: { enum: [...FAILURE_CODES] }, reason: REASON },
};

/** Header schemas of every frame of a `zip` stream, registered once per host. */
export function registerZipMessages(messages: MessageRegistry): void {
  const strict = (required: string[], properties: Record<string, unknown>) => ({
    type: 'object',
    additionalProperties: false,
    required,
    properties,
  });
  messages.register(
    ZIP_META,
    strict(['root', 'files', 'dirs', 'bytes'], {
      // Bytes are checked by names.ts; 1024 characters only bounds the work before that.
      root: { type: 'string', maxLength: 1024 },
      files: COUNT,
      dirs: COUNT,
      bytes: COUNT,
    }),
  );
  messages.register(ZIP_ACCEPT, strict([], {}));
  messages.register(ZIP_REJECT, strict(FAILURE.required, FAILURE.properties));
  messages.register(ZIP_DATA, strict([], {}), { body: 'required', maxBody: MAX_DATA });
  messages.register(ZIP_END, strict(['hash', 'zip_bytes'], { hash: HEX_256, zip_bytes: COUNT }));
  messages.register(ZIP_ABORT, strict(FAILURE.required, FAILURE.properties));
  messages.register(
    ZIP_VERIFIED,
    strict(['hash', 'saved_as', 'files', 'bytes'], {
      hash: HEX_256,
      saved_as: { type: 'string', maxLength: 1024 },
      files: COUNT,
      bytes: COUNT,
    }),
  );
  messages.register(ZIP_FAILED, strict(FAILURE.required, FAILURE.properties));
}
