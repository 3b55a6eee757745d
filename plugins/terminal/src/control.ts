/**
 * Who may type into and resize the shared terminal besides the owner: at most one agent.
 * Viewers are read-only until the owner grants control; the owner can revoke it any time.
 */
export class ControlState {
  private holder: string | null;
  /** Agents that asked for control, oldest first, without repeats. */
  private readonly requests: string[] = [];

  constructor(initial: string | null = null) {
    this.holder = initial;
  }

  get controller(): string | null {
    return this.holder;
  }

  canWrite(agentId: string): boolean {
    return this.holder !== null && this.holder === agentId;
  }

  /** Records a request; false when the agent already has control or already asked. */
  request(agentId: string): boolean {
    if (this.holder === agentId || this.requests.includes(agentId)) return false;
    this.requests.push(agentId);
    return true;
  }

  /** The agent asked for control and has no answer yet. */
  isPending(agentId: string): boolean {
    return this.requests.includes(agentId);
  }

  /** Hands control to `agentId` (taking it from any previous holder); returns the previous holder. */
  grant(agentId: string): string | null {
    const previous = this.holder;
    this.holder = agentId;
    this.forget(agentId);
    return previous;
  }

  /** Takes control back; returns who had it. */
  revoke(): string | null {
    const previous = this.holder;
    this.holder = null;
    return previous;
  }

  /** Declines (or forgets, when the agent left) an agent's pending request. */
  forget(agentId: string): boolean {
    const index = this.requests.indexOf(agentId);
    if (index === -1) return false;
    this.requests.splice(index, 1);
    return true;
  }
}
