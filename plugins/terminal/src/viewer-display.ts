import { printable } from '@mesh-agent/host';
import type { SnapshotHeader } from './protocol.js';
import { VIEWER_HELP, type ViewerDisplay } from './viewer-client.js';

type Write = (text: string | Buffer) => void;

/** Renders the shared terminal in the local TTY; the viewer's own messages go between lines. */
export class TtyDisplay implements ViewerDisplay {
  constructor(
    private readonly write: Write,
    private readonly localSize: () => { cols: number; rows: number },
  ) {}

  snapshot(header: SnapshotHeader, screen: Buffer): void {
    // The serialized screen expects a blank terminal with the cursor at home.
    this.write('\x1b[0m\x1b[H\x1b[2J\x1b[3J');
    this.write(screen);
    if (header.reason === 'resync') return;
    this.message(`watching ${header.owner}'s terminal, read-only until you get control; ${VIEWER_HELP}`);
    const local = this.localSize();
    if (local.cols < header.cols || local.rows < header.rows)
      this.message(
        `the shared terminal is ${header.cols}x${header.rows}, yours is ${local.cols}x${local.rows}: lines may wrap`,
      );
  }

  output(chunk: Buffer): void {
    this.write(chunk);
  }

  resize(cols: number, rows: number): void {
    const local = this.localSize();
    if (local.cols < cols || local.rows < rows)
      this.message(`the shared terminal is now ${cols}x${rows}, yours is ${local.cols}x${local.rows}`);
  }

  control(controller: string | null, self: boolean, reason?: string): void {
    if (self) this.message('you have control: your keys reach the shared terminal');
    else if (controller === null && reason) this.message(`control revoked: ${reason}`);
    else if (controller) this.message(`${controller} has control`);
  }

  notice(_code: string, message: string): void {
    this.message(message);
  }

  message(text: string): void {
    // Names, reasons and notices come from the sharer: shown, never obeyed.
    this.write(`\r\n\x1b[0m[mesh-agent] ${printable(text)}\r\n`);
  }
}

/**
 * One JSON object per line (`--json`): for scripts and tests. Output is decoded as UTF-8 with
 * a streaming decoder, so characters split between frames stay whole.
 */
export class JsonDisplay implements ViewerDisplay {
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly write: Write) {}

  private line(value: Record<string, unknown>): void {
    this.write(`${JSON.stringify(value)}\n`);
  }

  snapshot(header: SnapshotHeader, screen: Buffer): void {
    const { type: _type, ...fields } = header;
    this.line({ event: 'snapshot', ...fields, screen: screen.toString('utf8') });
  }

  output(chunk: Buffer): void {
    const data = this.decoder.decode(chunk, { stream: true });
    if (data.length > 0) this.line({ event: 'output', data });
  }

  resize(cols: number, rows: number): void {
    this.line({ event: 'resize', cols, rows });
  }

  control(controller: string | null, self: boolean, reason?: string): void {
    this.line({ event: 'control', controller, self, ...(reason ? { reason } : {}) });
  }

  notice(code: string, message: string): void {
    this.line({ event: 'notice', code, message });
  }

  message(text: string): void {
    this.line({ event: 'message', message: text });
  }
}

/** Output bytes as they come to stdout (a pipe: `attach-terminal X > log`); the rest to stderr. */
export class RawDisplay implements ViewerDisplay {
  constructor(
    private readonly out: Write,
    private readonly err: Write,
  ) {}

  snapshot(_header: SnapshotHeader, screen: Buffer): void {
    this.out(screen);
  }

  output(chunk: Buffer): void {
    this.out(chunk);
  }

  resize(cols: number, rows: number): void {
    this.message(`the shared terminal is now ${cols}x${rows}`);
  }

  control(controller: string | null, self: boolean, reason?: string): void {
    if (self) this.message('you have control');
    else
      this.message(
        controller ? `${controller} has control` : `control revoked${reason ? `: ${reason}` : ''}`,
      );
  }

  notice(_code: string, message: string): void {
    this.message(message);
  }

  message(text: string): void {
    this.err(`[mesh-agent] ${printable(text)}\n`);
  }
}
