import {
  defineMessage,
  failureHeader,
  HEX_256,
  type MessageRegistry,
  strictHeader,
  UINT53,
} from '@mesh-agent/host';

/** The data-plane stream type this plugin handles. */
export const ZIP_STREAM = 'zip';
/** Largest ZIP_DATA body (the frame limit is 1 MiB + 64 KiB). */
export const MAX_DATA = 1024 * 1024;

// Sender → receiver.
export const ZIP_META = 'ZIP_META';
export const ZIP_DATA = 'ZIP_DATA';
export const ZIP_END = 'ZIP_END';
export const ZIP_ABORT = 'ZIP_ABORT';
export const ZIP_WITHDRAW = 'ZIP_WITHDRAW';
// Receiver → sender.
export const ZIP_ACCEPT = 'ZIP_ACCEPT';
export const ZIP_REJECT = 'ZIP_REJECT';
export const ZIP_VERIFIED = 'ZIP_VERIFIED';
export const ZIP_FAILED = 'ZIP_FAILED';

/**
 * Withdrawals are negotiated, since an older receiver fails on a ZIP_WITHDRAW frame and an older
 * sender on an unknown ZIP_ACCEPT field: the sender offers them with this STREAM_OPEN field
 * (which hosts pass through unchecked), and only a receiver that saw the offer answers
 * ZIP_ACCEPT { withdraw: true }. Without both, a file that changes mid-stream fails the folder.
 */
export const WITHDRAW_OFFER = 'zip_withdraw';
/** The STREAM_OPEN fields of a sender that takes part in withdrawals. */
export const OFFER_FIELDS = { [WITHDRAW_OFFER]: true };

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
  /** The sender's user stopped it (Ctrl-C); the receiver drops the partial folder. */
  'CANCELLED',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export type ZipMetaHeader = {
  type: typeof ZIP_META;
  /** The folder's name: the ZIP's entries all start with `root/`. */
  root: string;
  files: number;
  dirs: number;
  /** Uncompressed bytes of all files. */
  bytes: number;
};

export const ZipMeta = defineMessage<ZipMetaHeader>(ZIP_META, {
  type: 'object',
  additionalProperties: false,
  required: ['root', 'files', 'dirs', 'bytes'],
  properties: {
    // Bytes are checked by names.ts; 1024 characters only bounds the work before that.
    root: { type: 'string', maxLength: 1024 },
    files: UINT53,
    dirs: UINT53,
    bytes: UINT53,
  },
});

export const ZipData = defineMessage<{ type: typeof ZIP_DATA }>(
  ZIP_DATA,
  { type: 'object', additionalProperties: false, required: [], properties: {} },
  { body: 'required', maxBody: MAX_DATA },
);

export const ZipEnd = defineMessage<{ type: typeof ZIP_END; hash: string; zip_bytes: number }>(ZIP_END, {
  type: 'object',
  additionalProperties: false,
  required: ['hash', 'zip_bytes'],
  properties: { hash: HEX_256, zip_bytes: UINT53 },
});

export const ZipAbort = defineMessage<{ type: typeof ZIP_ABORT; code: FailureCode; reason: string }>(
  ZIP_ABORT,
  {
    type: 'object',
    additionalProperties: false,
    required: ['code', 'reason'],
    properties: {
      code: { type: 'string', enum: FAILURE_CODES },
      reason: { type: 'string', maxLength: 1024 },
    },
  },
);

export const ZipAccept = defineMessage<{ type: typeof ZIP_ACCEPT; withdraw?: boolean }>(ZIP_ACCEPT, {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: { withdraw: { type: 'boolean', nullable: true } },
});

/**
 * The file entry whose local header is at `offset` is void: the sender read a change in it while
 * its bytes streamed. The ZIP bytes sent since that header are dropped, the receiver deletes what
 * it extracted of that entry (and only that one: it must be the entry being received), and the
 * archive goes on with the next entry; the central directory does not list the withdrawn one.
 */
export const ZipWithdraw = defineMessage<{ type: typeof ZIP_WITHDRAW; offset: number; reason: string }>(
  ZIP_WITHDRAW,
  {
    type: 'object',
    additionalProperties: false,
    required: ['offset', 'reason'],
    properties: { offset: UINT53, reason: { type: 'string', maxLength: 1024 } },
  },
);

const FAILURE = failureHeader(FAILURE_CODES);

/** Header schemas of every frame of a `zip` stream, registered once per host. */
export function registerZipMessages(messages: MessageRegistry): void {
  messages.add(ZipMeta);
  messages.add(ZipAccept);
  messages.register(ZIP_REJECT, FAILURE);
  messages.add(ZipData, ZipEnd, ZipAbort, ZipWithdraw);
  messages.register(
    ZIP_VERIFIED,
    strictHeader(['hash', 'saved_as', 'files', 'bytes'], {
      hash: HEX_256,
      saved_as: { type: 'string', maxLength: 1024 },
      files: UINT53,
      bytes: UINT53,
    }),
  );
  messages.register(ZIP_FAILED, FAILURE);
}
