/**
 * The owner's control requests, asked one at a time: `Ctrl-] y` and `Ctrl-] n` answer the request
 * on screen, never one that arrived after it, so a viewer asking at the last moment cannot take
 * the grant meant for another.
 */
export class ControlPrompt {
  private readonly waiting: string[] = [];

  /** The viewer whose request is on screen. */
  get current(): string | undefined {
    return this.waiting[0];
  }

  /** Queues a request; true when it is the one to show now. */
  asked(viewer: string): boolean {
    if (!this.waiting.includes(viewer)) this.waiting.push(viewer);
    return this.current === viewer;
  }

  /**
   * The request is settled (answered, or its viewer left); returns the next one to show, if
   * `viewer` was on screen.
   */
  settled(viewer: string): string | undefined {
    const index = this.waiting.indexOf(viewer);
    if (index === -1) return undefined;
    this.waiting.splice(index, 1);
    return index === 0 ? this.current : undefined;
  }
}
