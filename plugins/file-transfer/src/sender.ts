import { open, stat } from 'node:fs/promises';
import { type Frame, type FrameChannel, printable } from '@mesh-agent/host';
import { unlessCancelled } from './cancel.js';
import { ChunkReader, ShortFileError } from './disk-io.js';
import { Blake3 } from './hasher.js';
import { abortTransfer, receiverVerdict, refusal, sendFailure } from './outcome.js';
import { hashPrefix } from './part-files.js';
import {
  FILE_ABORT,
  FILE_CHUNK,
  FILE_DONE,
  FILE_FAILED,
  FILE_META,
  FILE_REJECT,
  FILE_RESUME,
  FILE_START,
  FileAccept,
  FileFailed,
  FileReject,
  FileResume,
  FileVerified,
  TransferError,
} from './protocol.js';

export interface OutgoingFile {
  /** Path on disk. */
  path: string;
  /** Name the receiver stores it under (checked by the caller). */
  name: string;
}

export interface SendOptions {
  chunkSize: number;
  /** Called after every chunk with the bytes the receiver holds and the bytes sent this time. */
  onProgress?(done: number, sent: number): void;
  /** Called once the receiver answered, with the offset the data starts at. */
  onStart?(resumedFrom: number, size: number): void;
  /** Called when the receiver offers a resume: it holds `offset` bytes, kept if the sender stops now. */
  onOffer?(offset: number): void;
  /**
   * Aborting it cancels the transfer until the last chunk is sent: the receiver is told (FILE_ABORT,
   * CANCELLED) and keeps its part file, and sendFile throws the signal's reason.
   */
  signal?: AbortSignal;
}

export interface SendResult {
  name: string;
  /** The name the receiver stored it under (differs on a collision). */
  savedAs: string;
  size: number;
  hash: string;
  seconds: number;
  mbPerSecond: number;
  /** File bytes carried this time (the resumed prefix excluded). */
  bytesSent: number;
  resumedFrom: number;
}

/**
 * Sends one file over an open `file` stream: announce, agree on a resume offset (after comparing
 * prefix hashes), stream chunks with backpressure while hashing, then check that the file did not
 * change and let the receiver verify the BLAKE3.
 */
export async function sendFile(
  channel: FrameChannel,
  file: OutgoingFile,
  opts: SendOptions,
): Promise<SendResult> {
  const startedAt = Date.now();
  const cancellable = <T>(work: Promise<T>) => unlessCancelled(work, opts.signal);
  const handle = await open(file.path, 'r');
  try {
    const before = await handle.stat();
    if (!before.isFile()) throw new TransferError('BAD_META', `${file.path} is not a regular file`);
    await channel.send({
      type: FILE_META,
      name: file.name,
      size: before.size,
      mode: before.mode & 0o777,
      mtime: before.mtimeMs,
      chunk_size: opts.chunkSize,
    });
    const answer = await cancellable(channel.next([FileAccept, FileResume, FileReject]));
    if (answer.header.type === FILE_REJECT) throw refusal(answer, 'the receiver refused the file');
    let hasher = new Blake3();
    let from = 0;
    if (answer.header.type === FILE_RESUME) {
      const offset = answer.header.offset;
      opts.onOffer?.(offset);
      if (offset <= before.size) {
        // One read of the prefix instead of sending it: resume only if both sides hold the same bytes.
        await cancellable(hashPrefix(file.path, offset, hasher));
        if (hasher.digest() === answer.header.prefix_hash) from = offset;
        else hasher = new Blake3();
      }
    }
    await channel.send({ type: FILE_START, offset: from });
    opts.onStart?.(from, before.size);

    // The receiver may fail the transfer at any point (full disk, bad chunk): watch for its answer.
    const verdict = channel.next([FileVerified, FileFailed]);
    let early: Frame | undefined;
    verdict.then(
      (frame) => {
        early = frame;
      },
      () => {},
    );
    let position = from;
    try {
      const reader = new ChunkReader(handle, from, before.size, opts.chunkSize);
      // A file that shrank ends the loop early; the size check below reports it as changed.
      const nextChunk = () =>
        reader.next().catch((error: unknown) => {
          if (error instanceof ShortFileError) return undefined;
          throw error;
        });
      for (let data = await nextChunk(); data && !early; data = await nextChunk()) {
        hasher.update(data);
        // A send blocked on flow control must not hide the receiver's verdict, nor hold up a cancel.
        await cancellable(
          Promise.race([channel.send({ type: FILE_CHUNK, offset: position }, data), verdict]),
        );
        // Nothing buffered: the transport has taken (copied or written) the chunk.
        if (channel.duplex.writableLength === 0) reader.recycle(data);
        position += data.length;
        opts.onProgress?.(position, position - from);
      }
      if (!early) {
        const after = await stat(file.path);
        if (position !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
          const reason = `${file.path} changed while it was being sent (size ${before.size} → ${after.size}, mtime ${before.mtimeMs} → ${after.mtimeMs})`;
          // The receiver confirms before the stream closes (it drops its partial file).
          await abortTransfer(channel, { type: FILE_ABORT, code: 'CHANGED', reason });
          throw new TransferError('CHANGED', reason);
        }
        await channel.send({ type: FILE_DONE, hash: hasher.digest() });
      }
    } catch (error) {
      if (error instanceof TransferError) throw error;
      throw await sendFailure(verdict, FILE_FAILED, error);
    }
    const result = await receiverVerdict(channel, verdict, FILE_FAILED);
    const seconds = (Date.now() - startedAt) / 1000;
    const bytesSent = before.size - from;
    return {
      name: file.name,
      // The receiver's word, printed and passed to observers: never raw control characters.
      savedAs: printable(String(result.header.saved_as)),
      size: before.size,
      hash: String(result.header.hash),
      seconds,
      mbPerSecond: seconds > 0 ? bytesSent / 1e6 / seconds : 0,
      bytesSent,
      resumedFrom: from,
    };
  } catch (error) {
    if (opts.signal?.aborted && error === opts.signal.reason) {
      const reason = 'the sender cancelled; the part file stays for a resume';
      await abortTransfer(channel, { type: FILE_ABORT, code: 'CANCELLED', reason });
    }
    channel.destroy();
    throw error;
  } finally {
    await handle.close();
  }
}
