import { definePlugin } from '@mesh-agent/host';
import type { FileTransferApi } from '@mesh-agent/plugin-file-transfer';
import { configSchema, type FolderZipConfig } from './config.js';
import { declareFolderEvents } from './events.js';
import { registerZipMessages, ZIP_STREAM } from './protocol.js';
import { FolderReceiver } from './receiver.js';

export {
  configSchema,
  type FolderZipConfig,
  SYMLINK_POLICIES,
  type SymlinkPolicy,
} from './config.js';
export { FOLDER_EVENTS } from './events.js';
export * from './protocol.js';
export { type FolderSendResult, type SendFolderOptions, sendFolder } from './sender.js';
export { type FolderTree, FolderTreeError, walkFolder } from './tree.js';
export { ZipError, type ZipErrorCode, type ZipLimits } from './zip/limits.js';
export { type CentralEntry, type LocalEntry, ZipStreamReader } from './zip/reader.js';
export { type FileMeta, ZipWriter, type ZipWriterOptions } from './zip/writer.js';

/**
 * Whole folders as a streamed ZIP on the `zip` stream type. Depends on file-transfer: received
 * folders go to its download directory under its accept policy.
 */
export default definePlugin({
  name: 'folder-zip',
  configSchema,
  dependsOn: ['file-transfer'],
  apply(host, config: FolderZipConfig, deps: { 'file-transfer': FileTransferApi }) {
    registerZipMessages(host.messages);
    declareFolderEvents(host);
    const receiver = new FolderReceiver({ host, config, transfer: deps['file-transfer'] });
    host.hooks.stream.for(ZIP_STREAM).tapPromise('folder-zip', async (stream) => {
      await receiver.handle(stream);
      return true;
    });
  },
});
