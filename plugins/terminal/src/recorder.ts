import type { WriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { MeshError } from '@mesh-agent/host';

export interface RecordingHeader {
  cols: number;
  rows: number;
  /** Command line shown by players. */
  command?: string;
  title?: string;
}

/**
 * Writes an asciicast v2 recording (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then one `[seconds, "o" | "r", data]` line per output chunk or resize.
 */
export class AsciicastRecorder {
  private readonly started = process.hrtime.bigint();
  private readonly decoder = new TextDecoder('utf-8');
  private failure: Error | undefined;

  /**
   * Creates the recording file, never replacing one: a recording is often the only copy of a
   * session. Fails at once (before anything is shared) when the file exists or cannot be written.
   */
  static async create(
    path: string,
    header: RecordingHeader,
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<AsciicastRecorder> {
    try {
      const handle = await open(path, 'wx', 0o600);
      return new AsciicastRecorder(path, handle.createWriteStream(), header, env);
    } catch (error) {
      throw recordingError(path, error as NodeJS.ErrnoException);
    }
  }

  private constructor(
    private readonly path: string,
    private readonly file: WriteStream,
    header: RecordingHeader,
    env: NodeJS.ProcessEnv,
  ) {
    this.file.on('error', (error) => {
      this.failure ??= error;
    });
    const line: Record<string, unknown> = {
      version: 2,
      width: header.cols,
      height: header.rows,
      timestamp: Math.floor(Date.now() / 1000),
      env: { SHELL: env.SHELL ?? '', TERM: 'xterm-256color' },
    };
    if (header.command) line.command = header.command;
    if (header.title) line.title = header.title;
    this.file.write(`${JSON.stringify(line)}\n`);
  }

  /** Why recording stopped, if it did (a full disk must not end the share). */
  get error(): Error | undefined {
    return this.failure;
  }

  output(chunk: Uint8Array): void {
    // Streaming decode: a UTF-8 sequence split between chunks lands whole in the later event.
    const text = this.decoder.decode(chunk, { stream: true });
    if (text.length > 0) this.event('o', text);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  async close(): Promise<void> {
    const rest = this.decoder.decode();
    if (rest.length > 0) this.event('o', rest);
    this.file.end();
    await finished(this.file).catch(() => {});
  }

  /** Closes and removes the recording: the share it was for never started. */
  async discard(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true }).catch(() => {});
  }

  private event(code: 'o' | 'r', data: string): void {
    if (this.failure || this.file.writableEnded) return;
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    this.file.write(`[${seconds.toFixed(6)}, ${JSON.stringify(code)}, ${JSON.stringify(data)}]\n`);
  }
}

function recordingError(path: string, error: NodeJS.ErrnoException): MeshError {
  if (error.code === 'EEXIST')
    return new MeshError(
      'record_exists',
      `${path} already exists; share-terminal never overwrites a recording`,
      'give --record a new file name, or move the old recording away first',
      2,
    );
  const why = WHY_UNWRITABLE[error.code ?? ''] ?? error.message;
  return new MeshError(
    'record_unwritable',
    `cannot create the recording ${path}: ${why}`,
    'give --record a path in a directory you can write to',
    2,
  );
}

const WHY_UNWRITABLE: Readonly<Record<string, string>> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
};
