import { DEFAULT_LIMITS, type ZipLimits } from './zip/limits.js';

export const SYMLINK_POLICIES = ['skip', 'error'] as const;
export type SymlinkPolicy = (typeof SYMLINK_POLICIES)[number];

/** The validated `plugins.folder-zip` section: the receiver's limits and the sender's defaults. */
export interface FolderZipConfig extends ZipLimits {
  /** What `send-folder` does with a symlink in the tree unless `--symlinks` says otherwise. */
  symlinks: SymlinkPolicy;
}

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxEntries: { type: 'integer', minimum: 1, default: DEFAULT_LIMITS.maxEntries },
    maxTotalBytes: { type: 'integer', minimum: 0, default: DEFAULT_LIMITS.maxTotalBytes },
    maxCompressionRatio: { type: 'number', minimum: 1, default: DEFAULT_LIMITS.maxCompressionRatio },
    maxPathBytes: { type: 'integer', minimum: 1, maximum: 65_535, default: DEFAULT_LIMITS.maxPathBytes },
    symlinks: { enum: [...SYMLINK_POLICIES], default: 'skip' },
  },
} as const;
