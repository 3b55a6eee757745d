import type { EventLine } from '@mesh-agent/host';
import { describe, expect, it } from 'vitest';
import { declareFolderEvents, fileCount } from '../src/events.js';

/** The lines declareFolderEvents gives the daemon, by event name. */
function folderLines(): Map<string, EventLine | undefined> {
  const lines = new Map<string, EventLine | undefined>();
  declareFolderEvents({
    declaredEvents: () => new Map(),
    declareEvent: (name, _description, line) => lines.set(name, line),
  });
  return lines;
}

describe('folder event lines', () => {
  it('count files in words: 1 file, 2 files', () => {
    expect([fileCount(0), fileCount(1), fileCount(2)]).toEqual(['0 files', '1 file', '2 files']);
    const completed = folderLines().get('folder.completed');
    const payload = { root: 'notes', bytes: 3, peer: 'agent-a', direction: 'receive', path: '/d/notes' };
    expect(completed?.({ ...payload, files: 1 })).toBe(
      'received folder notes (1 file, 3 B) from agent-a → /d/notes',
    );
  });
});
