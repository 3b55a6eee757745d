import { join } from 'node:path';
import { DEFAULT_CHUNK, MAX_CHUNK, MIN_CHUNK } from './protocol.js';

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
  },
} as const;

export function downloadDirOf(config: FileTransferConfig, home: string): string {
  return config.downloadDir ?? join(home, 'downloads');
}
