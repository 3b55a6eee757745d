import type { FrameChannel } from '@mesh-agent/host';
import { ControlState } from './control.js';
import {
  type EndedBy,
  type NoticeCode,
  TERM_CONTROL_GRANT,
  TERM_CONTROL_REQUEST,
  TERM_CONTROL_REVOKE,
  TERM_EXIT,
  TERM_IN,
  TERM_NOTICE,
  TERM_RESIZE,
} from './protocol.js';
import type { PtyExit, PtySession } from './pty-session.js';
import type { AsciicastRecorder } from './recorder.js';
import { ScreenModel } from './screen.js';
import type { ShareEnd } from './share-end.js';
import { ViewerFanout, ViewerOutbox } from './viewer-fanout.js';

/** What happens in a share, for the owner's display, JSON output and plugin events. */
export type ShareEvent =
  | { event: 'viewer_joined'; viewer: string; viewers: number }
  | { event: 'viewer_left'; viewer: string; viewers: number; reason: string }
  | { event: 'viewer_refused'; viewer: string }
  | { event: 'control_requested'; viewer: string }
  | { event: 'control_granted'; viewer: string }
  | { event: 'control_revoked'; viewer: string }
  | { event: 'control_denied'; viewer: string }
  | { event: 'input_dropped'; viewer: string; kind: 'input' | 'resize'; bytes: number }
  | { event: 'viewer_resynced'; viewer: string }
  | { event: 'viewer_dropped'; viewer: string; reason: string }
  | { event: 'resized'; cols: number; rows: number; by: string }
  | { event: 'ended'; code: number | null; signal: number | null; by: EndedBy };

export interface ShareLimits {
  /** Output bytes queued per viewer before it gets a fresh snapshot instead. */
  maxBufferedPerViewer: number;
  /** A viewer that accepts nothing for this long is dropped. */
  viewerStallMs: number;
  /** Unparsed bytes in the screen model above which PTY reading slows down. */
  modelHighWater: number;
  /** Time to deliver the last output and TERM_EXIT to viewers once the program ended. */
  finishMs: number;
  /**
   * A viewer's dropped input is reported once per burst of typing: again only after this long
   * without dropped input from it.
   */
  dropQuietMs: number;
}

export const DEFAULT_LIMITS: ShareLimits = {
  maxBufferedPerViewer: 8 * 1024 * 1024,
  viewerStallMs: 30_000,
  modelHighWater: 32 * 1024 * 1024,
  finishMs: 5_000,
  dropQuietMs: 5_000,
};

/** Longest pause of PTY reading; the next output chunk may start another. */
const THROTTLE_MS = 20;

export interface ShareSessionOptions {
  ownerId: string;
  /** Size of the screen until the PTY starts. */
  cols: number;
  rows: number;
  /** Agent that has control from the start (`--allow-control`). */
  allowControl?: string;
  /** When set, only these agents may watch. */
  allowedViewers?: readonly string[];
  recorder?: AsciicastRecorder;
  limits?: Partial<ShareLimits>;
  /** PTY output for the owner's own terminal. */
  onOutput?: (chunk: Buffer) => void;
  onEvent: (event: ShareEvent) => void;
}

interface Viewer {
  id: string;
  channel: FrameChannel;
  outbox: ViewerOutbox;
  /** Until when the current burst of dropped input lasts (reported at its start). */
  dropBurstUntil: number;
}

/**
 * The owner's side of a shared terminal: one PTY, the headless screen model, a bounded outbox
 * per viewer, and who has control. Viewers are read-only unless they hold control.
 */
export class ShareSession {
  readonly control: ControlState;
  readonly screen: ScreenModel;
  private readonly limits: ShareLimits;
  /** Resolves once the program ended and viewers were told (or given up on). */
  readonly ended: Promise<ShareEnd>;
  private resolveEnded!: (end: ShareEnd) => void;
  private pty: PtySession | undefined;
  private readonly fanout = new ViewerFanout<Viewer>();
  /** Resumes PTY reading once a pause has lasted its longest. */
  private throttle: NodeJS.Timeout | undefined;
  private finished = false;
  /** The owner ended the share (stop()): the program's hang-up is no failure then. */
  private stopped = false;

  constructor(private readonly opts: ShareSessionOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.control = new ControlState(opts.allowControl ?? null);
    this.screen = new ScreenModel({ cols: opts.cols, rows: opts.rows });
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
  }

  /** Connects the program's PTY; viewers that joined before saw the blank screen. */
  start(pty: PtySession): Promise<ShareEnd> {
    if (this.pty) throw new Error('the share already runs a program');
    this.pty = pty;
    if (pty.cols !== this.opts.cols || pty.rows !== this.opts.rows) this.screen.resize(pty.cols, pty.rows);
    pty.onData((chunk) => this.onOutput(chunk));
    void pty.exited.then((exit) => this.finish(exit));
    return this.ended;
  }

  get viewerCount(): number {
    return this.fanout.size;
  }

  /** Serves one viewer until it leaves or the session ends. */
  async attach(viewerId: string, channel: FrameChannel): Promise<void> {
    if (this.finished) {
      await this.refuse(channel, 'dropped', 'the shared terminal has ended');
      return;
    }
    if (this.opts.allowedViewers && !this.opts.allowedViewers.includes(viewerId)) {
      this.opts.onEvent({ event: 'viewer_refused', viewer: viewerId });
      await this.refuse(channel, 'not_invited', 'this terminal is shared with other agents only');
      return;
    }
    const outbox = new ViewerOutbox(channel, {
      maxBuffered: this.limits.maxBufferedPerViewer,
      stallMs: this.limits.viewerStallMs,
      snapshot: () => this.screen.snapshot(),
      snapshotFields: (s) => ({
        cols: s.cols,
        rows: s.rows,
        owner: this.opts.ownerId,
        controller: this.control.controller,
      }),
      onResync: () => this.opts.onEvent({ event: 'viewer_resynced', viewer: viewerId }),
      onDropped: (reason) => this.opts.onEvent({ event: 'viewer_dropped', viewer: viewerId, reason }),
    });
    const viewer: Viewer = {
      id: viewerId,
      channel,
      outbox,
      dropBurstUntil: 0,
    };
    this.fanout.add(viewer);
    this.opts.onEvent({ event: 'viewer_joined', viewer: viewerId, viewers: this.fanout.size });
    let reason = 'detached';
    try {
      for await (const frame of channel) this.onViewerFrame(viewer, frame.header, frame.body);
    } catch (error) {
      reason = (error as Error).message;
    }
    if (this.fanout.viewers.has(viewer)) {
      // The viewer left on its own (not at the end of the session).
      this.fanout.remove(viewer);
      outbox.close();
      this.control.forget(viewerId);
      if (!this.finished) channel.destroy();
      this.opts.onEvent({ event: 'viewer_left', viewer: viewerId, viewers: this.fanout.size, reason });
    }
  }

  /** Keys the owner typed in their own terminal. */
  ownerInput(data: Buffer): void {
    this.pty?.write(data);
  }

  /** The owner's terminal changed size. */
  ownerResize(cols: number, rows: number): void {
    this.resize(cols, rows, this.opts.ownerId);
  }

  /** Gives control to `agentId`, who must have asked for it; returns who got it. */
  grant(agentId: string): string | undefined {
    if (!this.control.isPending(agentId)) return undefined;
    const previous = this.control.grant(agentId);
    if (previous && previous !== agentId) this.announceRevoke(previous, 'control passed to another agent');
    this.fanout.frame({ type: TERM_CONTROL_GRANT, agent_id: agentId });
    this.opts.onEvent({ event: 'control_granted', viewer: agentId });
    return agentId;
  }

  /** Takes control back; returns who had it. */
  revoke(): string | null {
    const previous = this.control.revoke();
    if (previous) this.announceRevoke(previous, 'the owner took control back');
    return previous;
  }

  /** Declines `agentId`'s pending request; returns whose. */
  deny(agentId: string): string | undefined {
    if (!this.control.forget(agentId)) return undefined;
    for (const viewer of this.fanout.viewers)
      if (viewer.id === agentId)
        viewer.outbox.pushFrame({
          type: TERM_NOTICE,
          code: 'control_denied',
          message: 'the owner declined your control request',
        });
    this.opts.onEvent({ event: 'control_denied', viewer: agentId });
    return agentId;
  }

  /** The owner ends the share: the program gets a hang-up, viewers learn the owner ended it. */
  stop(): void {
    this.stopped = true;
    if (this.pty) this.pty.kill('SIGHUP');
    else void this.finish({ code: null, signal: null });
  }

  private announceRevoke(agentId: string, reason: string): void {
    // Typing after losing control is news to the owner: it starts a burst of its own.
    for (const viewer of this.fanout.viewers) if (viewer.id === agentId) viewer.dropBurstUntil = 0;
    this.fanout.frame({ type: TERM_CONTROL_REVOKE, agent_id: agentId, reason });
    this.opts.onEvent({ event: 'control_revoked', viewer: agentId });
  }

  private onOutput(chunk: Buffer): void {
    this.screen.write(chunk);
    this.opts.recorder?.output(chunk);
    this.fanout.output(chunk);
    this.opts.onOutput?.(chunk);
    // The screen model must keep up (late joiners need it): while it lags, read in short bursts.
    // Never pause for long: node-pty drops unread output 200 ms after the program exits.
    if (!this.throttle && this.screen.backlog > this.limits.modelHighWater) {
      this.pty?.pause();
      this.throttle = setTimeout(this.resume, THROTTLE_MS);
    }
  }

  private readonly resume = (): void => {
    clearTimeout(this.throttle);
    this.throttle = undefined;
    this.pty?.resume();
  };

  private onViewerFrame(viewer: Viewer, header: { type: string; [k: string]: unknown }, body: Buffer): void {
    switch (header.type) {
      case TERM_IN:
        if (this.control.canWrite(viewer.id)) this.pty?.write(body);
        else this.reportDropped(viewer, 'input', body.length);
        break;
      case TERM_RESIZE:
        if (this.control.canWrite(viewer.id))
          this.resize(Number(header.cols), Number(header.rows), viewer.id);
        else this.reportDropped(viewer, 'resize', 0);
        break;
      case TERM_CONTROL_REQUEST:
        if (this.control.request(viewer.id))
          this.opts.onEvent({ event: 'control_requested', viewer: viewer.id });
        break;
      default:
        // Owner → viewer frames coming the wrong way.
        viewer.channel.destroy(new Error(`a viewer may not send ${header.type}`));
    }
  }

  /**
   * Dropped input is reported to the owner and the viewer when a burst of it starts; what follows
   * within `dropQuietMs` of the previous drop belongs to that burst and is dropped silently (a viewer
   * typing along would otherwise flood the owner's screen).
   */
  private reportDropped(viewer: Viewer, kind: 'input' | 'resize', bytes: number): void {
    const now = Date.now();
    const quiet = now >= viewer.dropBurstUntil;
    viewer.dropBurstUntil = now + this.limits.dropQuietMs;
    if (!quiet) return;
    this.opts.onEvent({ event: 'input_dropped', viewer: viewer.id, kind, bytes });
    viewer.outbox.pushFrame({
      type: TERM_NOTICE,
      code: 'read_only',
      message: 'read-only: your keys and resizes are ignored until the owner grants you control',
    });
  }

  private resize(cols: number, rows: number, by: string): void {
    if (!this.pty?.resize(cols, rows)) return;
    this.screen.resize(cols, rows);
    this.opts.recorder?.resize(cols, rows);
    this.fanout.frame({ type: TERM_RESIZE, cols, rows });
    this.opts.onEvent({ event: 'resized', cols, rows, by });
  }

  private async refuse(channel: FrameChannel, code: NoticeCode, message: string): Promise<void> {
    try {
      await channel.send({ type: TERM_NOTICE, code, message });
      await channel.end();
    } catch {
      channel.destroy();
    }
  }

  private async finish(exit: PtyExit): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const end: ShareEnd = { ...exit, by: this.stopped ? 'owner' : 'program' };
    this.fanout.frame({ type: TERM_EXIT, ...end });
    await this.fanout.finish(this.limits.finishMs);
    await Promise.all(
      [...this.fanout.viewers].map(async (viewer) => {
        try {
          await viewer.channel.end();
        } catch {
          // Already gone.
        }
      }),
    );
    await this.opts.recorder?.close();
    await this.screen.close();
    this.opts.onEvent({ event: 'ended', ...end });
    this.resolveEnded(end);
  }
}
