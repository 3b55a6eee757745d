// @ts-check
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { defineMessage, definePlugin } from '@mesh-agent/host';

/** The data-plane stream type this plugin adds. */
export const NOTE_STREAM = 'note';

/** Sender → receiver: one short text. Declared once: name, header schema, body rule. */
export const Note = defineMessage('NOTE', {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: { text: { type: 'string', minLength: 1, maxLength: 4096 } },
});

/** Receiver → sender: where the note was kept. */
export const NoteKept = defineMessage('NOTE_KEPT', {
  type: 'object',
  additionalProperties: false,
  required: ['count'],
  properties: { count: { type: 'integer', minimum: 1 } },
});

/**
 * Keeps short notes other agents send, one JSON line each, in `<home>/notes.jsonl` (or
 * `plugins.note.file`). Its API tells the plugin's own command where the notes go.
 */
export default definePlugin({
  name: 'note',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1 },
      fromRoomOnly: { type: 'boolean', default: true },
    },
  },
  /** @param {{ file?: string; fromRoomOnly: boolean }} config */
  apply(host, config) {
    const file = config.file ?? join(host.home, 'notes.jsonl');
    let count = 0;
    host.messages.add(Note, NoteKept);
    host.declareEvent('note.received', 'another agent sent a note (payload: from, text)');
    host.hooks.stream.for(NOTE_STREAM).tapPromise('note', async ({ peer, channel }) => {
      // The host knows how the peer reached us; no directory of our own.
      const { roomMember, direct } = host.standing(peer);
      if (config.fromRoomOnly && !roomMember && !direct) {
        channel.destroy(new Error('not a member of this agent’s room'));
        return true;
      }
      const { header } = await channel.next([Note]);
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, `${JSON.stringify({ from: peer.agentId, text: header.text })}\n`);
      host.emit('note.received', { from: peer.agentId, text: header.text });
      await channel.send({ type: NoteKept.type, count: ++count });
      await channel.end();
      return true;
    });
    return { notesFile: file };
  },
});
