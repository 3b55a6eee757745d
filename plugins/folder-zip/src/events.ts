import { randomUUID } from 'node:crypto';
import type { EventLine, PluginHost } from '@mesh-agent/host';
import { formatBytes } from '@mesh-agent/host';
import { throttle } from '@mesh-agent/plugin-file-transfer';

export const FOLDER_EVENTS = {
  'folder.started': 'a folder transfer started (payload: id, root, files, bytes, peer, direction)',
  'folder.progress':
    'a folder transfer made progress, at most 4 times a second (payload: id, root, files, bytes, peer, direction, filesDone, bytesDone)',
  'folder.completed':
    'a folder arrived, every entry and the BLAKE3 of the ZIP stream checked (payload: id, root, files, bytes, peer, direction, hash, seconds, savedAs; path on the receiving side)',
  'folder.failed':
    'a folder transfer failed (payload: id, root, files, bytes, peer, direction, code, reason)',
} as const;

/** What the daemon's user reads when a folder transfer ends (see EventLine). */
const FOLDER_LINES: Partial<Record<keyof typeof FOLDER_EVENTS, EventLine>> = {
  'folder.completed': (p) => {
    const what = `folder ${p.root} (${fileCount(Number(p.files))}, ${formatBytes(Number(p.bytes))})`;
    return p.direction === 'receive'
      ? `received ${what} from ${p.peer} → ${p.path}`
      : `sent ${what} to ${p.peer} → ${p.savedAs}`;
  },
  'folder.failed': (p) =>
    p.direction === 'receive'
      ? `could not receive folder ${p.root} from ${p.peer}: ${p.reason}`
      : `could not send folder ${p.root} to ${p.peer}: ${p.reason}`,
};

export function declareFolderEvents(host: Pick<PluginHost, 'declareEvent' | 'declaredEvents'>): void {
  for (const [name, description] of Object.entries(FOLDER_EVENTS))
    if (!host.declaredEvents().has(name))
      host.declareEvent(name, description, FOLDER_LINES[name as keyof typeof FOLDER_EVENTS]);
}

/** The events of one folder transfer; progress is throttled so observers see at most 4 per second. */
export class FolderEvents {
  readonly id = randomUUID();
  private readonly startedAt = Date.now();
  private readonly progress = throttle<{ filesDone: number; bytesDone: number }>(250, (done) =>
    this.emit('folder.progress', done),
  );

  constructor(
    private readonly host: Pick<PluginHost, 'emit'>,
    private readonly base: {
      root: string;
      files: number;
      bytes: number;
      peer: string;
      direction: 'send' | 'receive';
    },
  ) {}

  started(): void {
    this.emit('folder.started', {});
  }

  advanced(filesDone: number, bytesDone: number): void {
    this.progress.push({ filesDone, bytesDone });
  }

  completed(hash: string, extra: Record<string, unknown> = {}): void {
    this.emit('folder.completed', { hash, seconds: (Date.now() - this.startedAt) / 1000, ...extra });
  }

  failed(code: string, reason: string): void {
    this.emit('folder.failed', { code, reason });
  }

  private emit(name: keyof typeof FOLDER_EVENTS, extra: Record<string, unknown>): void {
    this.host.emit(name, { id: this.id, ...this.base, ...extra });
  }
}

/** `1 file`, `2 files`: how a count of files reads in a line. */
export function fileCount(files: number): string {
  return `${files} ${files === 1 ? 'file' : 'files'}`;
}
