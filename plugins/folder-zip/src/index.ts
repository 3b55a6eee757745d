import { definePlugin, type MembersData } from '@mesh-agent/host';
import { PeerDirectory } from '@mesh-agent/plugin-file-transfer';
import { configSchema, type FolderZipConfig, fileTransferSection, folderDownloadDir } from './config.js';
import { declareFolderEvents } from './events.js';
import { registerZipMessages, ZIP_STREAM } from './protocol.js';
import { FolderReceiver } from './receiver.js';

export {
  configSchema,
  type FolderZipConfig,
  fileTransferSection,
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
 * folders go to its download directory under its accept policy; enabling folder-zip without it
 * fails with a ConfigError.
 */
export default definePlugin<FolderZipConfig>({
  name: 'folder-zip',
  configSchema,
  apply(host, config) {
    const transfer = fileTransferSection(host);
    registerZipMessages(host.messages);
    declareFolderEvents(host);
    const peers = new PeerDirectory();
    host.hooks.event.for('p2p.session').tap('folder-zip', (env) => {
      peers.onSession(String((env.data as { session_id?: unknown }).session_id));
    });
    host.hooks.event.for('room.members').tap('folder-zip', (env) => {
      const data = env.data as unknown as MembersData;
      if (data.room === host.config.signaling.room) peers.onMembers(data.members.map((m) => m.agent_id));
    });
    const receiver = new FolderReceiver({
      host,
      config,
      transfer,
      downloadDir: folderDownloadDir(host),
      peers,
    });
    host.hooks.stream.for(ZIP_STREAM).tapPromise('folder-zip', async (stream) => {
      await receiver.handle(stream);
      return true;
    });
  },
});
