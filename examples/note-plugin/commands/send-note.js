// @ts-check
import { MeshCommand, peerFlags, signalingOverrides, targetFromFlags } from '@mesh-agent/host';
import { Args } from '@oclif/core';
import note, { NOTE_STREAM, Note, NoteKept } from '../index.js';

export default class SendNote extends MeshCommand {
  static summary = 'Send a short note to another agent, which keeps it in its notes file.';
  static examples = ['<%= config.bin %> send-note "back in 5" --to agent-1234'];
  static enableJsonFlag = true;
  static args = { text: Args.string({ required: true, description: 'the note' }) };
  static flags = { ...peerFlags };

  async run() {
    const target = targetFromFlags(this.flags);
    // withPlugin hands the command its own plugin's validated config and API.
    return this.withPlugin(note, 'oneshot', signalingOverrides(this.flags), async ({ host, api }) => {
      const { peer, channel } = await host.openStream(target, NOTE_STREAM);
      await channel.send({ type: Note.type, text: this.args.text });
      const { header } = await channel.next([NoteKept]);
      await channel.end();
      this.log(`${peer.agentId} kept note #${header.count} (ours would go to ${api.notesFile})`);
      return { peer: peer.agentId, count: header.count };
    });
  }
}
