import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { definePlugin, type PeerInfo, userPath } from '@mesh-agent/host';
import { configSchema, type FileTransferConfig } from './config.js';
import { declareTransferEvents } from './events.js';
import { sweepExpiredParts, sweepIntervalMs } from './part-sweeper.js';
import { type Decision, decide } from './policy.js';
import { FILE_STREAM, registerFileMessages } from './protocol.js';
import { FileReceiver } from './receiver.js';
import { type Reservation, SpaceReservations } from './space.js';

export { cancelOnSignal, unlessCancelled } from './cancel.js';
export { configSchema, type FileTransferConfig } from './config.js';
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
export { receivedMode } from './modes.js';
export { checkFileName, MAX_NAME_BYTES, numberedName, UnsafeNameError } from './names.js';
export { openPlainDirectory, openPlainFile, setModeAndTime } from './no-follow.js';
export {
  abortTransfer,
  lostConnection,
  receiverVerdict,
  refusal,
  sendFailure,
} from './outcome.js';
export { type Decision, decide } from './policy.js';
export { megabytesPerSecond, type Progress, ProgressReporter, throttle } from './progress.js';
export * from './protocol.js';
export { type SendResult, sendFile } from './sender.js';
export { NoSpaceError, type Reservation } from './space.js';

/** What file-transfer offers its commands and the plugins that depend on it. */
export interface FileTransferApi {
  /** Where received files go (folder-zip's folders too). */
  readonly downloadDir: string;
  /** The accept policy's answer for a peer that opened a stream to this agent. */
  admit(peer: PeerInfo): Decision;
  /**
   * Holds `bytes` of the download directory's space for a transfer until it releases them;
   * throws a NoSpaceError when the disk or `maxInFlightBytes` cannot take them on top of the
   * transfers already in progress.
   */
  reserve(bytes: number): Promise<Reservation>;
  /**
   * Marks `path` in the download directory's partial folder as written by a transfer in
   * progress, so the sweep of abandoned transfers leaves it alone; returns the release.
   */
  claimPartial(path: string): () => void;
}

/** Verified, resumable file transfer on the `file` stream type. */
export default definePlugin({
  name: 'file-transfer',
  configSchema,
  apply(host, config: FileTransferConfig): FileTransferApi {
    registerFileMessages(host.messages);
    declareTransferEvents(host);
    const downloadDir = config.downloadDir ? userPath(config.downloadDir) : join(host.home, 'downloads');
    const admit = (peer: PeerInfo) => decide(config, peer, host.standing(peer));
    const space = new SpaceReservations(downloadDir, config.maxInFlightBytes);
    const reserve = (bytes: number) => space.reserve(bytes);
    const receiver = new FileReceiver({ host, config, downloadDir, admit, reserve });
    const claimed = new Set<string>();
    const claimPartial = (path: string) => {
      claimed.add(path);
      return () => {
        claimed.delete(path);
      };
    };
    const sweep = async () => {
      const inUse = (path: string) => claimed.has(path) || receiver.isReceiving(path);
      const removed = await sweepExpiredParts(downloadDir, config.partMaxAgeMs, inUse).catch(
        (error: Error) => {
          host.log.warn({ err: error.message }, 'cannot sweep abandoned transfers');
          return [];
        },
      );
      if (removed.length > 0)
        host.log.info(
          { count: removed.length, maxAgeMs: config.partMaxAgeMs },
          'removed abandoned transfers',
        );
    };
    let sweeper: NodeJS.Timeout | undefined;
    host.hooks.start.tapPromise('file-transfer', async () => {
      await mkdir(downloadDir, { recursive: true, mode: 0o700 });
      await sweep();
      sweeper = setInterval(sweep, sweepIntervalMs(config.partMaxAgeMs)).unref();
    });
    host.hooks.stop.tapPromise('file-transfer', async () => {
      clearInterval(sweeper);
    });
    host.hooks.stream.for(FILE_STREAM).tapPromise('file-transfer', async (stream) => {
      await receiver.handle(stream);
      return true;
    });
    return Object.freeze({ downloadDir, admit, reserve, claimPartial });
  },
});
