import { constants } from 'node:fs';
import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FrameChannel, IncomingStream, PeerInfo, PluginHost } from '@mesh-agent/host';
import { type HeaderOf, isWireError, oneOf, TimeoutError, withTimeout } from '@mesh-agent/host';
import type { FileTransferConfig } from './config.js';
import { SequentialWriter, syncDirectory } from './disk-io.js';
import { TransferEvents } from './events.js';
import { Blake3 } from './hasher.js';
import { receivedMode } from './modes.js';
import { checkFileName, linkWithoutOverwrite, UnsafeNameError } from './names.js';
import { openPlainFile, setModeAndTime } from './no-follow.js';
import {
  hashPrefix,
  type PartFiles,
  type PartIdentity,
  partFilesFor,
  removePart,
  resumableBytes,
  writeSidecar,
} from './part-files.js';
import type { Decision } from './policy.js';
import { megabytesPerSecond, throttle } from './progress.js';
import {
  type FailureCode,
  FILE_ABORT,
  FILE_ACCEPT,
  FILE_CHUNK,
  FILE_DONE,
  FILE_FAILED,
  FILE_REJECT,
  FILE_RESUME,
  FILE_VERIFIED,
  FileAbort,
  FileChunk,
  FileDone,
  FileMeta,
  type FileMetaHeader,
  FileStart,
  MIN_CHUNK,
} from './protocol.js';
import { NoSpaceError, type Reservation } from './space.js';

/** How long a sender may take to announce its file, and to answer a resume offer (it hashes its prefix). */
const META_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 10 * 60_000;
/** How long we wait for the sender to close its side after our last answer. */
const LINGER_MS = 5_000;

/** A transfer that cannot complete. `keepPart`: the bytes so far are sound and may be resumed. */
class ReceiveFailure extends Error {
  constructor(
    readonly code: FailureCode | 'CONNECTION_LOST',
    message: string,
    readonly keepPart = false,
  ) {
    super(message);
  }
}

export interface ReceiverOptions {
  host: PluginHost;
  config: FileTransferConfig;
  downloadDir: string;
  /** The accept policy's answer for the peer. */
  admit(peer: PeerInfo): Decision;
  /** Space for a transfer, shared with every other transfer in progress (SpaceReservations). */
  reserve(bytes: number): Promise<Reservation>;
}

interface Active {
  channel: FrameChannel;
  settled: Promise<void>;
}

/** The receiving end of `file` streams: policy, safe names, `.part` files, resume, verification. */
export class FileReceiver {
  /** Transfers in progress by part file: a newer transfer of the same file supersedes a stalled one. */
  private readonly active = new Map<string, Active>();

  constructor(private readonly opts: ReceiverOptions) {}

  /** Whether a transfer in progress writes the part file at `part` (the sweeper leaves it alone). */
  isReceiving(part: string): boolean {
    return this.active.has(part);
  }

  async handle({ peer, channel }: IncomingStream): Promise<void> {
    const { host, config } = this.opts;
    const log = host.log.child({ peer: peer.agentId });
    let meta: FileMetaHeader;
    try {
      meta = (await withTimeout(channel.next([FileMeta]), META_TIMEOUT_MS, senderSilent(META_TIMEOUT_MS)))
        .header;
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'file stream without a valid FILE_META');
      channel.destroy();
      return;
    }
    const events = new TransferEvents(host, {
      name: meta.name,
      size: meta.size,
      peer: peer.agentId,
      direction: 'receive',
    });
    const refuse = async (code: FailureCode, reason: string): Promise<void> => {
      log.warn({ file: meta.name, code }, `refused a file: ${reason}`);
      events.failed(code, reason);
      await channel.send({ type: FILE_REJECT, code, reason }).catch(() => {});
      await channel.linger(LINGER_MS);
    };
    const decision = this.opts.admit(peer);
    if (!decision.accept) return refuse('NOT_ALLOWED', decision.reason);
    try {
      checkFileName(meta.name);
    } catch (error) {
      if (error instanceof UnsafeNameError) return refuse('BAD_NAME', error.message);
      throw error;
    }
    if (meta.size > config.maxSize)
      return refuse('TOO_LARGE', `${meta.size} bytes is above this agent's limit of ${config.maxSize}`);
    if (meta.chunk_size < MIN_CHUNK)
      return refuse('BAD_META', `chunk size must be at least ${MIN_CHUNK} bytes`);

    const files = await partFilesFor(this.opts.downloadDir, peer.agentId, meta.name);
    const previous = this.active.get(files.part);
    if (previous) {
      log.info({ file: meta.name }, 'a newer transfer of the same file supersedes the stalled one');
      previous.channel.destroy(new Error('superseded by a newer transfer of the same file'));
      await previous.settled;
    }
    let settle = (): void => {};
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.active.set(files.part, { channel, settled });
    try {
      await this.receive(
        channel,
        meta,
        files,
        { peer: peer.agentId, name: meta.name, size: meta.size, mtime: meta.mtime },
        events,
        log,
      );
    } finally {
      if (this.active.get(files.part)?.channel === channel) this.active.delete(files.part);
      settle();
    }
  }

  private async receive(
    channel: FrameChannel,
    meta: FileMetaHeader,
    files: PartFiles,
    identity: PartIdentity,
    events: TransferEvents,
    log: PluginHost['log'],
  ): Promise<void> {
    const startedAt = Date.now();
    let offer = await resumableBytes(files, identity);
    let space: Reservation;
    try {
      space = await this.opts.reserve(meta.size - offer);
    } catch (error) {
      if (!(error instanceof NoSpaceError)) throw error;
      log.warn({ file: meta.name }, error.message);
      events.failed('NO_SPACE', error.message);
      await channel.send({ type: FILE_REJECT, code: 'NO_SPACE', reason: error.message }).catch(() => {});
      return channel.linger(LINGER_MS);
    }
    let hasher = new Blake3();
    // Bytes the part file holds: the offered prefix until the sender picks where to start (a cancel
    // during its prefix check keeps them all), then what was written.
    let position = offer;
    let fd: Awaited<ReturnType<typeof openPlainFile>> | undefined;
    let writer: SequentialWriter | undefined;
    try {
      if (offer > 0) {
        await hashPrefix(files.part, offer, hasher);
        await channel.send({ type: FILE_RESUME, offset: offer, prefix_hash: hasher.digest() });
      } else {
        await channel.send({ type: FILE_ACCEPT });
      }
      const start = await withTimeout(
        channel.next([FileStart, FileAbort]),
        START_TIMEOUT_MS,
        senderSilent(START_TIMEOUT_MS),
      );
      if (start.header.type === FILE_ABORT) throw senderAbort(start.header);
      const from = start.header.offset;
      if (from !== 0 && from !== offer)
        throw new ReceiveFailure('PROTOCOL', `FILE_START at ${from}, but only 0 or ${offer} were offered`);
      if (from === 0 && offer > 0) {
        // The sender's prefix differs: start over with a fresh hash.
        hasher = new Blake3();
        offer = 0;
      }
      position = from;
      await writeSidecar(files, identity);
      // A fresh start replaces whatever is at the part path (a link planted there included);
      // a resume reopens the plain file resumableBytes measured. Neither follows a link.
      if (from === 0) await rm(files.part, { force: true });
      const flags = constants.O_RDWR | (from === 0 ? constants.O_CREAT | constants.O_EXCL : 0);
      const handle = await openPlainFile(files.part, flags);
      fd = handle;
      // Flushed while it arrives, so the final fsync does not keep the sender waiting.
      const file = new SequentialWriter(handle, from);
      writer = file;
      if (from > 0) await handle.truncate(from);
      events.started(from);
      log.info({ file: meta.name, size: meta.size, resumedFrom: from }, 'receiving a file');
      const progressLog = throttle<number>(10_000, (done) =>
        log.info({ file: meta.name, bytes: done, size: meta.size }, 'receiving'),
      );

      const stallMs = this.opts.config.stallSeconds * 1000;
      for (;;) {
        // A stalled sender holds a stream, a part file and a quota share: drop it, keep the part.
        const frame = await withTimeout(channel.next(), stallMs, () => stalled(stallMs));
        const typed = oneOf(frame, [FileChunk, FileDone, FileAbort]);
        if (!typed) throw new ReceiveFailure('PROTOCOL', `unexpected ${frame.header.type} during a transfer`);
        const { header, body } = typed;
        if (header.type === FILE_CHUNK) {
          const offset = header.offset;
          if (offset !== position)
            throw new ReceiveFailure(
              'PROTOCOL',
              `chunk at offset ${offset}, expected ${position} (chunks must be contiguous and in order)`,
            );
          if (body.length > meta.chunk_size)
            throw new ReceiveFailure(
              'PROTOCOL',
              `chunk of ${body.length} bytes exceeds the agreed ${meta.chunk_size}`,
            );
          if (position + body.length > meta.size)
            throw new ReceiveFailure('PROTOCOL', `more bytes than the ${meta.size} declared`);
          hasher.update(body);
          // The body's memory goes back to the channel once it is in the file.
          await file.write(body, () => channel.release(frame));
          position += body.length;
          events.bytes(position);
          progressLog.push(position);
        } else if (header.type === FILE_DONE) {
          await file.drain();
          if (position !== meta.size)
            throw new ReceiveFailure('PROTOCOL', `FILE_DONE after ${position} of ${meta.size} bytes`);
          const hash = hasher.digest();
          if (hash !== header.hash)
            throw new ReceiveFailure(
              'HASH_MISMATCH',
              `BLAKE3 mismatch: the received data hashes to ${hash}, the sender announced ${header.hash}; the partial file was removed`,
            );
          // Through the descriptor: the mode and time land on this file, whatever the path holds.
          await setModeAndTime(handle, receivedMode(meta.mode, 'file'), meta.mtime);
          await file.sync();
          await handle.close();
          fd = undefined;
          const savedAs = await this.place(files, meta);
          await channel.send({ type: FILE_VERIFIED, hash, saved_as: savedAs });
          const seconds = (Date.now() - startedAt) / 1000;
          log.info(
            {
              file: meta.name,
              savedAs,
              hash,
              bytes: meta.size - from,
              mbPerSecond: megabytesPerSecond(meta.size - from, seconds * 1000),
            },
            'file received and verified',
          );
          events.completed(hash, { savedAs, path: join(this.opts.downloadDir, savedAs), resumedFrom: from });
          return channel.linger(LINGER_MS);
        } else {
          throw senderAbort(header);
        }
      }
    } catch (error) {
      // A failed flush is the cause, even if the sender vanished since: the part must not be
      // resumed from (see SequentialWriter.settled).
      const failure = asFailure((await writer?.settled()) ?? error);
      await fd?.close().catch(() => {});
      fd = undefined;
      if (!failure.keepPart) await removePart(files).catch(() => {});
      const cancelled = failure.code === 'CANCELLED';
      const message = cancelled
        ? `${identity.peer} cancelled ${meta.name}: ${position} of ${meta.size} bytes kept, sending it again resumes`
        : failure.message;
      log.warn(
        { file: meta.name, code: failure.code, bytes: position },
        cancelled ? message : `file transfer failed: ${message}`,
      );
      events.failed(failure.code, message);
      if (failure.code !== 'CONNECTION_LOST') {
        await channel.send({ type: FILE_FAILED, code: failure.code, reason: message }).catch(() => {});
        await channel.linger(LINGER_MS);
      }
    } finally {
      await fd?.close().catch(() => {});
      space.release();
    }
  }

  /** Moves a verified part file into the download directory under a free name; fsyncs the directory. */
  private async place(files: PartFiles, meta: FileMetaHeader): Promise<string> {
    const savedAs = await linkWithoutOverwrite(files.part, this.opts.downloadDir, meta.name);
    try {
      await unlink(files.part);
      await unlink(files.sidecar).catch(() => {});
      await syncDirectory(this.opts.downloadDir);
    } catch (error) {
      // Not announced, so not kept: a failed transfer leaves nothing under the final name.
      await unlink(join(this.opts.downloadDir, savedAs)).catch(() => {});
      throw error;
    }
    return savedAs;
  }
}

/** The sender's abort; a cancel (its user stopped it) leaves sound bytes behind, kept for a resume. */
function senderAbort(header: HeaderOf<typeof FileAbort>): ReceiveFailure {
  const cancelled = header.code === 'CANCELLED';
  return new ReceiveFailure(header.code, `the sender aborted: ${header.reason}`, cancelled);
}

/** Sorts any error into a failure: a lost connection keeps the part (resume), anything else drops it. */
function asFailure(error: unknown): ReceiveFailure {
  if (error instanceof ReceiveFailure) return error;
  if (isWireError(error)) {
    if (error.code === 'CONNECTION_LOST' || error.code === 'CHANNEL_CLOSED' || error.code === 'STREAM_ENDED')
      return new ReceiveFailure('CONNECTION_LOST', `connection to the sender lost: ${error.message}`, true);
    return new ReceiveFailure('PROTOCOL', `protocol violation: ${error.message}`);
  }
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT')
    return new ReceiveFailure('NO_SPACE', 'the download directory is full; the partial file was removed');
  if (error instanceof TimeoutError) return new ReceiveFailure('PROTOCOL', error.message);
  return new ReceiveFailure('IO_ERROR', `cannot store the file: ${(error as Error).message}`);
}

/** A sender silent in the middle of a file: the bytes so far are sound, so the part stays for a resume. */
function stalled(ms: number): ReceiveFailure {
  return new ReceiveFailure('PROTOCOL', `the sender stalled: nothing for ${ms / 1000} s`, true);
}

/** The timeout of a wait on the sender, in words for the user. */
function senderSilent(ms: number): () => TimeoutError {
  return () => new TimeoutError(`the sender said nothing for ${ms / 1000} s`);
}
