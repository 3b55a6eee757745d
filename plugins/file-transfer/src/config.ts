import { DEFAULT_CHUNK, MAX_CHUNK, MIN_CHUNK } from './chunk-sizes.js';

/** Who may send files to this agent; see README "Accept policy". */
export const ACCEPT_POLICIES = ['room', 'list', 'deny'] as const;
export type AcceptPolicy = (typeof ACCEPT_POLICIES)[number];

/** The validated `plugins.file-transfer` config section. */
export interface FileTransferConfig {
  /** Where received files go; default `<home>/downloads`. */
  downloadDir?: string;
  accept: AcceptPolicy;
  /** Agent ids accepted by the `list` policy. */
  allowFrom: string[];
  /** Largest file accepted, in bytes. */
  maxSize: number;
  /** Chunk size this agent uses when sending. */
  chunkSize: number;
  /** Bytes that transfers in progress (files and folders) may hold together. */
  maxInFlightBytes: number;
  /** Age after which an untouched `.part` file (an abandoned transfer) is removed, in ms. */
  partMaxAgeMs: number;
  /** A sender that sends nothing for this long in the middle of a file is dropped (its part kept). */
  stallSeconds: number;
}

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    downloadDir: { type: 'string', minLength: 1 },
    accept: { enum: [...ACCEPT_POLICIES], default: 'room' },
    allowFrom: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 128 }, default: [] },
    maxSize: { type: 'integer', minimum: 0, default: 64 * 1024 ** 3 },
    chunkSize: { type: 'integer', minimum: MIN_CHUNK, maximum: MAX_CHUNK, default: DEFAULT_CHUNK },
    maxInFlightBytes: { type: 'integer', minimum: 0, default: 64 * 1024 ** 3 },
    partMaxAgeMs: { type: 'integer', minimum: 1000, default: 7 * 24 * 60 * 60_000 },
    stallSeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 60 },
  },
} as const;
