import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, FrameChannel, IncomingStream, PluginHost } from '@mesh-agent/host';
import { type HeaderOf, isWireError, TimeoutError, withTimeout } from '@mesh-agent/host';
import {
  Blake3,
  checkFileName,
  type FileTransferApi,
  megabytesPerSecond,
  NoSpaceError,
  type Reservation,
  UnsafeNameError,
} from '@mesh-agent/plugin-file-transfer';
import type { FolderZipConfig } from './config.js';
import { FolderEvents } from './events.js';
import { Extractor } from './extract.js';
import { entryComponents } from './paths.js';
import {
  type FailureCode,
  WITHDRAW_OFFER,
  ZIP_ABORT,
  ZIP_ACCEPT,
  ZIP_END,
  ZIP_FAILED,
  ZIP_REJECT,
  ZIP_VERIFIED,
  ZIP_WITHDRAW,
  ZipAbort,
  ZipData,
  ZipEnd,
  ZipMeta,
  type ZipMetaHeader,
  ZipWithdraw,
} from './protocol.js';
import { type ByteSource, EntryWithdrawn } from './zip/input.js';
import { ZipError } from './zip/limits.js';
import { ZipStreamReader } from './zip/reader.js';

/** Hidden folder of the download directory for unfinished transfers (file-transfer's too). */
export const PARTIAL_DIR = '.mesh-partial';
const META_TIMEOUT_MS = 15_000;
/** Longest silence from the sender inside a transfer. */
const DATA_TIMEOUT_MS = 60_000;
const LINGER_MS = 5_000;
/** Space a file takes beyond its bytes (a block), for the free-space check. */
const PER_ENTRY_BYTES = 4096;

class ReceiveFailure extends Error {
  constructor(
    readonly code: FailureCode | 'CONNECTION_LOST',
    message: string,
  ) {
    super(message);
  }
}

export interface FolderReceiverOptions {
  host: PluginHost;
  config: FolderZipConfig;
  /** file-transfer's download directory and accept policy, which folders go by too. */
  transfer: FileTransferApi;
}

/**
 * The receiving end of `zip` streams: accept policy and limits, then extraction while the ZIP
 * streams in, into a private temporary directory that is moved into place only once every entry's
 * CRC-32 and sizes, the central directory and the BLAKE3 of the whole stream have been checked.
 */
export class FolderReceiver {
  constructor(private readonly opts: FolderReceiverOptions) {}

  async handle({ peer, open, channel }: IncomingStream): Promise<void> {
    const { host, config, transfer } = this.opts;
    const log = host.log.child({ peer: peer.agentId });
    let meta: ZipMetaHeader;
    try {
      meta = (await withTimeout(channel.next([ZipMeta]), META_TIMEOUT_MS, senderSilent(META_TIMEOUT_MS)))
        .header;
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'zip stream without a valid ZIP_META');
      channel.destroy();
      return;
    }
    const events = new FolderEvents(host, {
      root: meta.root,
      files: meta.files,
      bytes: meta.bytes,
      peer: peer.agentId,
      direction: 'receive',
    });
    const refuse = async (code: FailureCode, reason: string): Promise<void> => {
      log.warn({ root: meta.root, code }, `refused a folder: ${reason}`);
      events.failed(code, reason);
      await channel.send({ type: ZIP_REJECT, code, reason }).catch(() => {});
      await channel.linger(LINGER_MS);
    };
    const decision = transfer.admit(peer);
    if (!decision.accept) return refuse('NOT_ALLOWED', decision.reason);
    try {
      checkFileName(meta.root);
    } catch (error) {
      if (error instanceof UnsafeNameError) return refuse('BAD_NAME', error.message);
      throw error;
    }
    const entries = meta.files + meta.dirs;
    if (entries > config.maxEntries)
      return refuse('TOO_LARGE', `${entries} entries is above this agent's limit of ${config.maxEntries}`);
    if (meta.bytes > config.maxTotalBytes)
      return refuse(
        'TOO_LARGE',
        `${meta.bytes} bytes is above this agent's limit of ${config.maxTotalBytes}`,
      );
    let space: Reservation;
    try {
      await mkdir(transfer.downloadDir, { recursive: true, mode: 0o700 });
      space = await transfer.reserve(meta.bytes + entries * PER_ENTRY_BYTES);
    } catch (error) {
      if (error instanceof NoSpaceError) return refuse('NO_SPACE', error.message);
      throw error;
    }
    try {
      // Withdrawals only when the sender offered them: an older sender fails on the ZIP_ACCEPT field.
      const withdrawals = open[WITHDRAW_OFFER] === true;
      await this.receive(channel, peer.agentId, meta, withdrawals, events, log);
    } finally {
      space.release();
    }
  }

  private async receive(
    channel: FrameChannel,
    peer: string,
    meta: ZipMetaHeader,
    withdrawals: boolean,
    events: FolderEvents,
    log: PluginHost['log'],
  ): Promise<void> {
    const { config } = this.opts;
    const { downloadDir } = this.opts.transfer;
    const startedAt = Date.now();
    const partial = join(downloadDir, PARTIAL_DIR);
    await mkdir(partial, { recursive: true, mode: 0o700 });
    const temp = join(partial, `folder-${randomUUID()}`);
    await mkdir(temp, { mode: 0o700 });
    const unclaim = this.opts.transfer.claimPartial(temp);
    const extractor = new Extractor(temp, (files, bytes) => events.advanced(files, bytes));
    const hasher = new Blake3();
    const stream = new ZipFrames(channel, hasher, withdrawals);
    let withdrawn = 0;
    try {
      await channel.send(withdrawals ? { type: ZIP_ACCEPT, withdraw: true } : { type: ZIP_ACCEPT });
      events.started();
      log.info({ root: meta.root, files: meta.files, bytes: meta.bytes }, 'receiving a folder');
      // The sender's announcement bounds what the archive may hold, below the configured limits.
      const reader = new ZipStreamReader(stream, {
        maxEntries: meta.files + meta.dirs,
        maxTotalBytes: meta.bytes,
        maxCompressionRatio: config.maxCompressionRatio,
        maxPathBytes: config.maxPathBytes,
      });
      for (;;) {
        const next = await reader.next();
        if (!next) break;
        const parts = entryComponents(next.entry.name, meta.root);
        if (next.entry.isDirectory) {
          await extractor.directory(parts, next.entry.mtimeMs);
          continue;
        }
        try {
          await extractor.file(parts, next.entry.mtimeMs, next.data);
        } catch (error) {
          // The reader accepted it for this very entry, and the extractor deleted what it wrote.
          if (!(error instanceof EntryWithdrawn)) throw error;
          withdrawn++;
          log.info(
            { root: meta.root, entry: next.entry.name, reason: error.reason },
            'the sender withdrew a file',
          );
        }
      }
      const central = await reader.central();
      const hash = hasher.digest();
      const end = stream.end;
      if (!end) throw new ReceiveFailure('PROTOCOL', 'the archive ended without ZIP_END');
      if (end.zip_bytes !== stream.bytes || end.hash !== hash)
        throw new ReceiveFailure(
          'HASH_MISMATCH',
          `BLAKE3 mismatch: the ${stream.bytes} bytes received hash to ${hash}, the sender announced ${end.hash} over ${end.zip_bytes} bytes`,
        );
      await extractor.finish(central, meta.root);
      const savedAs = await extractor.place(downloadDir, meta.root);
      await channel.send({
        type: ZIP_VERIFIED,
        hash,
        saved_as: savedAs,
        files: extractor.files,
        bytes: extractor.bytes,
      });
      const ms = Date.now() - startedAt;
      log.info(
        {
          root: meta.root,
          savedAs,
          hash,
          files: extractor.files,
          bytes: extractor.bytes,
          ...(withdrawn > 0 && { withdrawn }),
          mbPerSecond: megabytesPerSecond(extractor.bytes, ms),
        },
        'folder received and verified',
      );
      // What arrived: the sender may have left out files it announced (changed before it read them).
      events.completed(hash, {
        savedAs,
        path: join(downloadDir, savedAs),
        files: extractor.files,
        bytes: extractor.bytes,
      });
      await channel.linger(LINGER_MS);
    } catch (error) {
      const failure = asFailure(error);
      await extractor.abandon();
      await rm(temp, { recursive: true, force: true }).catch(() => {});
      const cancelled = failure.code === 'CANCELLED';
      const message = cancelled
        ? `${peer} cancelled ${meta.root}; the partial folder was removed`
        : failure.message;
      log.warn(
        { root: meta.root, code: failure.code, bytes: stream.bytes },
        cancelled ? message : `folder transfer failed: ${message}`,
      );
      events.failed(failure.code, message);
      if (failure.code !== 'CONNECTION_LOST') {
        await channel.send({ type: ZIP_FAILED, code: failure.code, reason: message }).catch(() => {});
        await channel.linger(LINGER_MS);
      } else {
        channel.destroy();
      }
    } finally {
      unclaim();
    }
  }
}

/** The ZIP bytes of a `zip` stream: ZIP_DATA bodies (hashed as they arrive) until ZIP_END. */
class ZipFrames implements ByteSource {
  bytes = 0;
  end: HeaderOf<typeof ZipEnd> | undefined;
  /** The last frames handed out, newest last: see `next`. */
  private readonly recent: Frame[] = [];

  constructor(
    private readonly channel: FrameChannel,
    private readonly hasher: Blake3,
    /** ZIP_ACCEPT said `withdraw`: ZIP_WITHDRAW may come. */
    private readonly withdrawals: boolean,
  ) {}

  async next(): Promise<Buffer | undefined> {
    if (this.end) return undefined;
    const frame = await withTimeout(
      this.channel.next([ZipData, ZipEnd, ZipAbort, ZipWithdraw]),
      DATA_TIMEOUT_MS,
      senderSilent(DATA_TIMEOUT_MS),
    );
    if (frame.header.type === ZIP_ABORT)
      throw new ReceiveFailure(frame.header.code, `the sender aborted: ${frame.header.reason}`);
    if (frame.header.type === ZIP_WITHDRAW) {
      if (!this.withdrawals)
        throw new ReceiveFailure('PROTOCOL', 'ZIP_WITHDRAW from a sender that did not offer withdrawals');
      throw new EntryWithdrawn(frame.header.offset, frame.header.reason);
    }
    if (frame.header.type === ZIP_END) {
      this.end = frame.header;
      return undefined;
    }
    this.hasher.update(frame.body);
    this.bytes += frame.body.length;
    // A body goes back to the channel two frames later. By the time the reader asks for a frame,
    // it has consumed every byte before the previous one, and each of its pieces is done: hashed,
    // copied (names, small files), taken by the inflater, or written (the extractor waits for a
    // piece's write before asking for more, and for all of a file's writes before the next entry).
    this.recent.push(frame);
    if (this.recent.length > 2) this.channel.release(this.recent.shift() as Frame);
    return frame.body;
  }
}

/** Sorts any error into a failure code the sender understands. */
function asFailure(error: unknown): ReceiveFailure {
  if (error instanceof ReceiveFailure) return error;
  // One the reader did not take for the file entry it was reading (there was none).
  if (error instanceof EntryWithdrawn)
    return new ReceiveFailure(
      'PROTOCOL',
      `the sender withdrew the entry at offset ${error.offset} while no file's data was being received`,
    );
  if (error instanceof ZipError) {
    // A stream that ended or broke mid-archive is a truncation, whatever the reader saw.
    return new ReceiveFailure(error.code === 'LIMIT' ? 'LIMIT' : error.code, error.message);
  }
  if (isWireError(error)) {
    if (error.code === 'CONNECTION_LOST' || error.code === 'CHANNEL_CLOSED' || error.code === 'STREAM_ENDED')
      return new ReceiveFailure('CONNECTION_LOST', `connection to the sender lost: ${error.message}`);
    return new ReceiveFailure('PROTOCOL', `protocol violation: ${error.message}`);
  }
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT')
    return new ReceiveFailure('NO_SPACE', 'the download directory is full; the partial folder was removed');
  if (error instanceof TimeoutError) return new ReceiveFailure('PROTOCOL', error.message);
  return new ReceiveFailure('IO_ERROR', `cannot store the folder: ${(error as Error).message}`);
}

/** The timeout of a wait on the sender, in words for the user. */
function senderSilent(ms: number): () => TimeoutError {
  return () => new TimeoutError(`the sender said nothing for ${ms / 1000} s`);
}
