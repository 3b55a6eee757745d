import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { type Frame, type FrameChannel, type FrameHeader, printable } from '@mesh-agent/host';
import {
  abortTransfer,
  Blake3,
  ChunkReader,
  receiverVerdict,
  refusal,
  ShortFileError,
  sendFailure,
  TransferError,
  unlessCancelled,
} from '@mesh-agent/plugin-file-transfer';
import {
  MAX_DATA,
  ZIP_ABORT,
  ZIP_ACCEPT,
  ZIP_DATA,
  ZIP_END,
  ZIP_FAILED,
  ZIP_META,
  ZIP_REJECT,
  ZIP_VERIFIED,
  ZIP_WITHDRAW,
} from './protocol.js';
import { type FolderTree, PERMISSION_DENIED, type SkippedEntry, type TreeEntry } from './tree.js';
import { SizeChangedError, ZipWriter } from './zip/writer.js';

export interface SendFolderOptions {
  compress: boolean;
  /** After every file: files and file bytes done. */
  onProgress?(filesDone: number, bytesDone: number): void;
  onStart?(): void;
  /**
   * A file left out because it changed, vanished or cannot be read before any byte of it was
   * sent, or (when the receiver takes withdrawals) because it changed while its bytes streamed.
   */
  onSkip?(skipped: SkippedEntry): void;
  /**
   * Aborting it cancels the transfer until the ZIP is sent: the receiver is told (ZIP_ABORT,
   * CANCELLED) and drops the partial folder, and sendFolder throws the signal's reason.
   */
  signal?: AbortSignal;
}

export interface FolderSendResult {
  root: string;
  /** The name the receiver stored it under (differs on a collision). */
  savedAs: string;
  /** Files sent (skipped ones not counted). */
  files: number;
  dirs: number;
  /** File bytes sent (uncompressed). */
  bytes: number;
  /** Bytes of the ZIP stream. */
  zipBytes: number;
  /** BLAKE3 of the ZIP stream. */
  hash: string;
  seconds: number;
  /** File bytes per second, MB (10^6). */
  mbPerSecond: number;
  skipped: SkippedEntry[];
}

/** Small ZIP pieces (headers, small files) are gathered up to this size before a frame goes out. */
const BATCH = 256 * 1024;
/** Files up to this size are read whole, several ahead of the writer. */
const SMALL_FILE = 256 * 1024;
const READ_AHEAD = 16;
const READ_CHUNK = 1024 * 1024;
/** Why a file withdrawn mid-stream is left out (the warning, `skipped`, the receiver's log). */
const CHANGED_WHILE_SENT = 'it changed while it was being sent';
/** Why a file whose read failed with an I/O error is left out. */
const READ_FAILED = 'it cannot be read: input/output error';

/**
 * Sends a folder over an open `zip` stream: announce it, stream the ZIP as ZIP_DATA frames while
 * hashing them, then ZIP_END with the BLAKE3 and wait for the receiver's verdict.
 */
export async function sendFolder(
  channel: FrameChannel,
  tree: FolderTree,
  opts: SendFolderOptions,
): Promise<FolderSendResult> {
  const startedAt = Date.now();
  const cancellable = <T>(work: Promise<T>) => unlessCancelled(work, opts.signal);
  try {
    await channel.send({
      type: ZIP_META,
      root: tree.root,
      files: tree.files,
      dirs: tree.dirs,
      bytes: tree.bytes,
    });
    const answer = await cancellable(channel.next([ZIP_ACCEPT, ZIP_REJECT]));
    if (answer.header.type === ZIP_REJECT) throw refusal(answer, 'the receiver refused the folder');
    // A receiver that takes withdrawals said so (only when offered at STREAM_OPEN, see protocol.ts).
    const withdrawals = answer.header.withdraw === true;
    opts.onStart?.();
    const hash = new Blake3();
    // The receiver may fail the transfer at any point (unsafe entry, full disk): watch for its answer.
    const verdict = channel.next([ZIP_VERIFIED, ZIP_FAILED]);
    let early: Frame | undefined;
    verdict.then(
      (frame) => {
        early = frame;
      },
      () => {},
    );
    const send = async (header: FrameHeader, body?: Buffer): Promise<void> => {
      if (early) throw refusal(early, 'the receiver failed the transfer');
      await cancellable(Promise.race([channel.send(header, body), verdict]));
      if (early) throw refusal(early, 'the receiver failed the transfer');
    };
    const out = new FrameBatcher(async (body) => {
      hash.update(body);
      await send({ type: ZIP_DATA }, body);
    });
    let zipBytes: number;
    const skipped = [...tree.skipped];
    let files = 0;
    let bytes = 0;
    const leaveOut = (entry: TreeEntry, reason: string): void => {
      const left = { path: entry.rel, reason };
      skipped.push(left);
      opts.onSkip?.(left);
    };
    try {
      const writer = new ZipWriter((chunk) => out.push(chunk));
      const reads = new ReadAhead(tree.entries);
      for (const [index, entry] of tree.entries.entries()) {
        const name = entry.rel ? `${tree.root}/${entry.rel}` : tree.root;
        const meta = { mode: entry.mode, mtimeMs: entry.mtimeMs };
        if (entry.kind === 'dir') {
          await writer.addDirectory(name, meta);
          continue;
        }
        const fileMeta = { ...meta, size: entry.size, compress: opts.compress };
        // Checked before the entry's header goes out: until then, leaving the file out is silent.
        // Past it the receiver is extracting the entry: a change withdraws it (ZIP_WITHDRAW), or,
        // with a receiver that takes no withdrawals, fails the whole folder (CHANGED).
        let opened: Buffer | FileHandle;
        try {
          opened = entry.size <= SMALL_FILE ? await reads.get(index) : await openUnchanged(entry);
        } catch (error) {
          const reason = whyUnreadable(error);
          if (!reason) throw error;
          leaveOut(entry, reason);
          continue;
        }
        if (Buffer.isBuffer(opened)) await writer.addFile(name, fileMeta, single(opened));
        else {
          const offset = writer.bytesWritten;
          try {
            await writer.addFile(name, fileMeta, readExactly(entry, opened));
          } catch (error) {
            if (!(error instanceof SizeChangedError) || !withdrawals) throw error;
            // Every byte of the entry goes out before the frame that voids it.
            await out.flush();
            await send({ type: ZIP_WITHDRAW, offset, reason: CHANGED_WHILE_SENT });
            leaveOut(entry, CHANGED_WHILE_SENT);
            continue;
          } finally {
            await opened.close();
          }
        }
        files++;
        bytes += entry.size;
        opts.onProgress?.(files, bytes);
      }
      zipBytes = await writer.finish();
      await out.flush();
      await channel.send({ type: ZIP_END, hash: hash.digest(), zip_bytes: zipBytes });
    } catch (error) {
      if (error instanceof TransferError) throw error;
      if (error instanceof SizeChangedError) {
        const reason = (error as Error).message;
        await abortTransfer(channel, { type: ZIP_ABORT, code: 'CHANGED', reason });
        throw new TransferError('CHANGED', `the folder changed while it was being sent: ${reason}`);
      }
      throw await sendFailure(verdict, ZIP_FAILED, error);
    }
    const result = await receiverVerdict(channel, verdict, ZIP_FAILED);
    const seconds = (Date.now() - startedAt) / 1000;
    return {
      root: tree.root,
      // The receiver's word, printed and passed to observers: never raw control characters.
      savedAs: printable(String(result.header.saved_as)),
      files,
      dirs: tree.dirs,
      bytes,
      zipBytes,
      hash: String(result.header.hash),
      seconds,
      mbPerSecond: seconds > 0 ? bytes / 1e6 / seconds : 0,
      skipped,
    };
  } catch (error) {
    if (opts.signal?.aborted && error === opts.signal.reason) {
      const reason = 'the sender cancelled';
      await abortTransfer(channel, { type: ZIP_ABORT, code: 'CANCELLED', reason });
    }
    channel.destroy();
    throw error;
  }
}

/** Gathers ZIP output into frame bodies: small pieces are copied together, big ones go as they are. */
class FrameBatcher {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly send: (body: Buffer) => Promise<void>) {}

  async push(chunk: Buffer): Promise<void> {
    if (chunk.length >= BATCH) {
      await this.flush();
      for (let at = 0; at < chunk.length; at += MAX_DATA) await this.send(chunk.subarray(at, at + MAX_DATA));
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const body = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.send(body);
  }
}

/** Reads small files several at a time ahead of the writer: the disk's latency overlaps the network. */
class ReadAhead {
  private readonly started = new Map<number, Promise<Buffer>>();
  private next = 0;

  constructor(private readonly entries: TreeEntry[]) {}

  get(index: number): Promise<Buffer> {
    this.next = Math.max(this.next, index);
    while (this.started.size < READ_AHEAD && this.next < this.entries.length) {
      const at = this.next++;
      const entry = this.entries[at]!;
      if (entry.kind !== 'file' || entry.size > SMALL_FILE) continue;
      const reading = readSmall(entry);
      reading.catch(() => {});
      this.started.set(at, reading);
    }
    const reading = this.started.get(index) ?? readSmall(this.entries[index]!);
    this.started.delete(index);
    return reading;
  }
}

async function* single(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;

async function readSmall(entry: TreeEntry): Promise<Buffer> {
  const handle = await open(entry.path, READ_FLAGS);
  try {
    const data = await handle.readFile();
    const after = await handle.stat();
    if (data.length !== entry.size || after.mtimeMs !== entry.mtimeMs)
      throw new SizeChangedError(`${entry.path}: ${entry.size} → ${data.length} bytes`);
    return data;
  } finally {
    await handle.close();
  }
}

/** A large file opened for reading, still as the walk saw it (else SizeChangedError). */
async function openUnchanged(entry: TreeEntry): Promise<FileHandle> {
  const handle = await open(entry.path, READ_FLAGS);
  try {
    const now = await handle.stat();
    if (now.size !== entry.size || now.mtimeMs !== entry.mtimeMs)
      throw new SizeChangedError(`${entry.path}: ${entry.size} → ${now.size} bytes`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Exactly `entry.size` bytes of an open file, in fresh buffers (frames are sent without copying). */
async function* readExactly(entry: TreeEntry, handle: FileHandle): AsyncGenerator<Buffer> {
  // One read ahead while this chunk is zipped and sent; never recycled, so every chunk is fresh.
  const reader = new ChunkReader(handle, 0, entry.size, READ_CHUNK);
  try {
    for (let chunk = await reader.next(); chunk; chunk = await reader.next()) yield chunk;
  } catch (error) {
    if (error instanceof ShortFileError)
      throw new SizeChangedError(`${entry.path} shrank below ${entry.size} bytes`);
    throw error;
  }
  const after = await handle.stat();
  if (after.size !== entry.size || after.mtimeMs !== entry.mtimeMs)
    throw new SizeChangedError(`${entry.path} was modified while being sent`);
}

/**
 * Why a file could not be read before any of it was sent, in words; undefined for an error that
 * must stop the transfer.
 */
function whyUnreadable(error: unknown): string | undefined {
  if (error instanceof SizeChangedError) return 'it changed after the folder was listed';
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'it vanished after the folder was listed';
    case 'ELOOP':
      return 'it turned into a symlink; symlinks are never followed';
    case 'EACCES':
    case 'EPERM':
      return PERMISSION_DENIED;
    // The disk or filesystem failed on this file (EIO), or its device is gone (ENXIO): the rest of
    // the folder may still read fine.
    case 'EIO':
    case 'ENXIO':
      return READ_FAILED;
    default:
      return undefined;
  }
}
