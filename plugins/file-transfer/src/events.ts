import { randomUUID } from 'node:crypto';
import type { EventLine, PluginHost } from '@mesh-agent/host';
import { throttle } from './progress.js';

export const TRANSFER_EVENTS = {
  'transfer.started': 'a file transfer started (payload: id, name, size, peer, direction, resumedFrom)',
  'transfer.progress':
    'a file transfer made progress, at most 4 times a second (payload: id, name, size, peer, direction, bytes)',
  'transfer.completed':
    'a file arrived and its BLAKE3 matched (payload: id, name, size, peer, direction, hash, seconds; on the receiving side also savedAs, the name it was saved under, path, where it is, and resumedFrom)',
  'transfer.failed': 'a file transfer failed (payload: id, name, size, peer, direction, code, reason)',
} as const;

export type Direction = 'send' | 'receive';

/** What the daemon's user reads when a transfer ends (see EventLine). */
const TRANSFER_LINES: Partial<Record<keyof typeof TRANSFER_EVENTS, EventLine>> = {
  'transfer.completed': (p) =>
    p.direction === 'receive'
      ? `received ${p.name} from ${p.peer} → ${p.path}`
      : `sent ${p.name} to ${p.peer} → ${p.savedAs}`,
  'transfer.failed': (p) =>
    p.direction === 'receive'
      ? `could not receive ${p.name} from ${p.peer}: ${p.reason}`
      : `could not send ${p.name} to ${p.peer}: ${p.reason}`,
};

export function declareTransferEvents(host: Pick<PluginHost, 'declareEvent' | 'declaredEvents'>): void {
  for (const [name, description] of Object.entries(TRANSFER_EVENTS)) {
    if (!host.declaredEvents().has(name))
      host.declareEvent(name, description, TRANSFER_LINES[name as keyof typeof TRANSFER_EVENTS]);
  }
}

/** The events of one transfer; progress is throttled so observers see at most 4 per second. */
export class TransferEvents {
  readonly id = randomUUID();
  private readonly startedAt = Date.now();
  private readonly progress = throttle<number>(250, (bytes) => this.emit('transfer.progress', { bytes }));

  constructor(
    private readonly host: Pick<PluginHost, 'emit'>,
    private readonly base: { name: string; size: number; peer: string; direction: Direction },
  ) {}

  started(resumedFrom: number): void {
    this.emit('transfer.started', { resumedFrom });
  }

  bytes(done: number): void {
    this.progress.push(done);
  }

  completed(hash: string, extra: Record<string, unknown> = {}): void {
    this.emit('transfer.completed', { hash, seconds: (Date.now() - this.startedAt) / 1000, ...extra });
  }

  failed(code: string, reason: string): void {
    this.emit('transfer.failed', { code, reason });
  }

  private emit(name: keyof typeof TRANSFER_EVENTS, extra: Record<string, unknown>): void {
    this.host.emit(name, { id: this.id, ...this.base, ...extra });
  }
}
