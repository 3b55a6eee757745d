import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';

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
  private readonly file: WriteStream;
  private readonly started = process.hrtime.bigint();
  private readonly decoder = new TextDecoder('utf-8');
  private failure: Error | undefined;

  constructor(path: string, header: RecordingHeader, env: NodeJS.ProcessEnv = process.env) {
    this.file = createWriteStream(path, { flags: 'w', mode: 0o600 });
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

  private event(code: 'o' | 'r', data: string): void {
    if (this.failure || this.file.writableEnded) return;
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    this.file.write(`[${seconds.toFixed(6)}, ${JSON.stringify(code)}, ${JSON.stringify(data)}]\n`);
  }
}
