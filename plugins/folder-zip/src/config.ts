import { ConfigError, type PluginHost } from '@mesh-agent/host';
import { downloadDirOf, type FileTransferConfig } from '@mesh-agent/plugin-file-transfer';
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

/**
 * The file-transfer plugin's section: folder-zip stores into its download directory under its
 * accept policy. Throws a ConfigError (exit 2) when that plugin is disabled or not installed.
 */
export function fileTransferSection(host: Pick<PluginHost, 'config'>): FileTransferConfig {
  const section = host.config.plugins['file-transfer'];
  if (!section || section.enabled === false)
    throw new ConfigError('(plugins)', [
      {
        path: '/plugins/folder-zip',
        rule: 'dependency',
        message:
          'folder-zip needs the file-transfer plugin (its download directory and accept policy): enable plugins.file-transfer, or disable plugins.folder-zip',
      },
    ]);
  return section as unknown as FileTransferConfig;
}

/** Where received folders go: file-transfer's download directory. */
export function folderDownloadDir(host: Pick<PluginHost, 'config' | 'home'>): string {
  return downloadDirOf(fileTransferSection(host), host.home);
}
