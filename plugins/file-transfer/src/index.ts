import { mkdir } from 'node:fs/promises';
import { definePlugin, type MembersData } from '@mesh-agent/host';
import { configSchema, downloadDirOf, type FileTransferConfig } from './config.js';
import { declareTransferEvents } from './events.js';
import { PeerDirectory } from './policy.js';
import { FILE_STREAM, registerFileMessages } from './protocol.js';
import { FileReceiver } from './receiver.js';

export { configSchema, downloadDirOf, type FileTransferConfig } from './config.js';
export {
  ChunkReader,
  SequentialWriter,
  ShortFileError,
  syncDirectory,
  TaskPool,
  writeFully,
} from './disk-io.js';
export { TRANSFER_EVENTS } from './events.js';
export { Blake3 } from './hasher.js';
export { checkFileName, MAX_NAME_BYTES, numberedName, UnsafeNameError } from './names.js';
export { lostConnection, receiverVerdict, refusal, sendFailure } from './outcome.js';
export { decide, PeerDirectory } from './policy.js';
export { formatBytes, megabytesPerSecond, type Progress, ProgressReporter, throttle } from './progress.js';
export * from './protocol.js';
export { type SendResult, sendFile } from './sender.js';

/** Verified, resumable file transfer on the `file` stream type. */
export default definePlugin<FileTransferConfig>({
  name: 'file-transfer',
  configSchema,
  apply(host, config) {
    registerFileMessages(host.messages);
    declareTransferEvents(host);
    const peers = new PeerDirectory();
    host.hooks.event.for('p2p.session').tap('file-transfer', (env) => {
      peers.onSession(String((env.data as { session_id?: unknown }).session_id));
    });
    host.hooks.event.for('room.members').tap('file-transfer', (env) => {
      const data = env.data as unknown as MembersData;
      if (data.room === host.config.signaling.room) peers.onMembers(data.members.map((m) => m.agent_id));
    });
    const downloadDir = downloadDirOf(config, host.home);
    const receiver = new FileReceiver({ host, config, downloadDir, peers });
    host.hooks.start.tapPromise('file-transfer', async () => {
      await mkdir(downloadDir, { recursive: true, mode: 0o700 });
    });
    host.hooks.stream.for(FILE_STREAM).tapPromise('file-transfer', async (stream) => {
      await receiver.handle(stream);
      return true;
    });
  },
});
