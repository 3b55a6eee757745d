import { type Frame, type FrameChannel, oneOf, QuicConnectionClosedError } from '@mesh-agent/host';
import { MAX_INPUT_CHUNK } from './constants.js';
import { KeySequenceScanner } from './keys.js';
import {
  OWNER_MESSAGES,
  type SnapshotHeader,
  TERM_CONTROL_GRANT,
  TERM_CONTROL_REQUEST,
  TERM_CONTROL_REVOKE,
  TERM_EXIT,
  TERM_IN,
  TERM_NOTICE,
  TERM_OUT,
  TERM_RESIZE,
  TERM_SNAPSHOT,
} from './protocol.js';
import type { ShareEnd } from './share-end.js';

/** Where a viewer shows what it receives: the local TTY, JSON lines, or raw bytes. */
export interface ViewerDisplay {
  snapshot(header: SnapshotHeader, screen: Buffer): void;
  output(chunk: Buffer): void;
  resize(cols: number, rows: number): void;
  /** Control changed hands; `self` tells whether this viewer holds it now. */
  control(controller: string | null, self: boolean, reason?: string): void;
  notice(code: string, message: string): void;
  /** A message of the viewer itself (help, key sequences). */
  message(text: string): void;
}

export type ViewerResult =
  | ({ reason: 'exit'; owner: string | undefined } & ShareEnd)
  | { reason: 'detached' }
  | { reason: 'refused'; message: string }
  | { reason: 'lost'; message: string };

export const VIEWER_HELP =
  'keys: Ctrl-] q or Ctrl-] d detach, Ctrl-] c request control, Ctrl-] Ctrl-] send Ctrl-], Ctrl-] ? this help';

/**
 * The viewer's side of a shared terminal: renders what the owner sends, forwards typed keys
 * (the owner drops them unless this viewer holds control) and handles the Ctrl-] key sequences.
 */
export class ViewerClient {
  private readonly scanner = new KeySequenceScanner();
  private controller: string | null = null;
  private owner: string | undefined;
  private detached = false;
  private refusal: string | undefined;
  /** Why the viewer gave up on the sharer, when it learned before the connection did. */
  private gone: string | undefined;
  /** Sends go one after the other: keystrokes stay in order and memory stays flat. */
  private sending: Promise<void> = Promise.resolve();
  /** Sends started or waiting for the previous one. */
  private unsent = 0;

  constructor(
    private readonly channel: FrameChannel,
    private readonly selfId: string,
    private readonly display: ViewerDisplay,
  ) {}

  get hasControl(): boolean {
    return this.controller === this.selfId;
  }

  get ownerId(): string | undefined {
    return this.owner;
  }

  /** Reads frames until the program exits, the viewer detaches or the stream breaks. */
  async run(): Promise<ViewerResult> {
    try {
      for await (const frame of this.channel) {
        const result = this.onFrame(frame);
        if (result) return result;
      }
    } catch (error) {
      if (this.detached) return { reason: 'detached' };
      return { reason: 'lost', message: this.gone ?? this.describeLoss(error) };
    }
    if (this.detached) return { reason: 'detached' };
    if (this.gone) return { reason: 'lost', message: this.gone };
    if (this.refusal) return { reason: 'refused', message: this.refusal };
    return { reason: 'lost', message: 'the owner closed the stream' };
  }

  /** Bytes typed by the local user. */
  input(data: Buffer): void {
    const { forward, commands } = this.scanner.scan(data);
    if (forward.length > 0) {
      for (let offset = 0; offset < forward.length; offset += MAX_INPUT_CHUNK)
        this.send({ type: TERM_IN }, forward.subarray(offset, offset + MAX_INPUT_CHUNK));
    }
    for (const command of commands) this.command(command);
  }

  requestControl(): void {
    if (this.hasControl) {
      this.display.message('you already have control');
      return;
    }
    this.send({ type: TERM_CONTROL_REQUEST });
    this.display.message('control requested; waiting for the owner');
  }

  /** The local terminal's size changed (the owner ignores it unless this viewer has control). */
  resize(cols: number, rows: number): void {
    this.send({ type: TERM_RESIZE, cols, rows });
  }

  /** Leaves the session; the shared program keeps running. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    void this.sending.then(() => this.channel.end()).catch(() => this.channel.destroy());
    // Do not wait for the owner's last frames: detaching is immediate.
    setTimeout(() => this.channel.destroy(), 500).unref();
  }

  /** The sharer is gone (its agent left the room and stopped answering): the session ends now. */
  sharerGone(): void {
    if (this.detached || this.gone) return;
    this.gone = this.stoppedAnswering();
    this.channel.destroy();
  }

  private stoppedAnswering(): string {
    return `${this.owner ?? 'the sharer'}'s agent stopped answering`;
  }

  /** A broken connection in words: what happened to the sharer, not which layer noticed. */
  private describeLoss(error: unknown): string {
    let cause: unknown = error;
    while (cause instanceof Error && !(cause instanceof QuicConnectionClosedError)) cause = cause.cause;
    if (cause instanceof QuicConnectionClosedError && cause.byPeer)
      return `${this.owner ?? 'the sharer'}'s agent closed the connection`;
    // Closed on this side while viewing: the connection timed out or lost its only path.
    if (cause instanceof QuicConnectionClosedError) return this.stoppedAnswering();
    return `the connection to ${this.owner ?? 'the sharer'}'s agent broke`;
  }

  private command(key: string): void {
    switch (key) {
      case 'q':
      case 'd':
      case '.':
        this.detach();
        break;
      case 'c':
        this.requestControl();
        break;
      default:
        this.display.message(VIEWER_HELP);
    }
  }

  /** A keystroke goes out at once when nothing waits before it, not a promise turn later. */
  private send(header: { type: string; [field: string]: unknown }, body?: Buffer): void {
    if (this.detached) return;
    const sent = () => {
      this.unsent--;
    };
    const sending =
      this.unsent++ === 0
        ? this.channel.send(header, body)
        : this.sending.then(() => this.channel.send(header, body));
    // A failed send: the reader sees the broken stream and reports it.
    this.sending = sending.then(sent, sent);
  }

  private onFrame(frame: Frame): ViewerResult | undefined {
    const typed = oneOf(frame, OWNER_MESSAGES);
    if (!typed) {
      this.channel.destroy(new Error(`the owner may not send ${frame.header.type}`));
      return { reason: 'lost', message: `unexpected ${frame.header.type} from the owner` };
    }
    const { header, body } = typed;
    switch (header.type) {
      case TERM_OUT:
        this.display.output(body);
        return undefined;
      case TERM_SNAPSHOT: {
        this.owner = header.owner;
        this.controller = header.controller;
        this.display.snapshot(header, body);
        return undefined;
      }
      case TERM_RESIZE: {
        const { cols, rows } = header;
        this.display.resize(cols, rows);
        return undefined;
      }
      case TERM_CONTROL_GRANT: {
        const { agent_id: agentId } = header;
        this.controller = agentId;
        this.display.control(agentId, agentId === this.selfId);
        return undefined;
      }
      case TERM_CONTROL_REVOKE: {
        const { agent_id: agentId, reason } = header;
        if (this.controller === agentId) this.controller = null;
        if (agentId === this.selfId) this.display.control(this.controller, false, reason ?? undefined);
        return undefined;
      }
      case TERM_NOTICE: {
        const { code, message } = header;
        if (code === 'not_invited' || code === 'dropped') this.refusal = message;
        this.display.notice(code, message);
        return undefined;
      }
      case TERM_EXIT: {
        const { code, signal, by } = header;
        void this.channel.end().catch(() => {});
        return { reason: 'exit', owner: this.owner, code, signal, by };
      }
    }
  }
}
