import { resolve } from 'node:path';
import {
  formatBytes,
  MeshCommand,
  peerFlags,
  printable,
  signalingOverrides,
  targetFromFlags,
  UsageError,
} from '@mesh-agent/host';
import {
  cancelOnSignal,
  type Progress,
  ProgressReporter,
  TransferError,
  unlessCancelled,
} from '@mesh-agent/plugin-file-transfer';
import { Args, Flags } from '@oclif/core';
import { SYMLINK_POLICIES, type SymlinkPolicy } from '../config.js';
import { FolderEvents, fileCount } from '../events.js';
import folderZip from '../index.js';
import { OFFER_FIELDS, ZIP_STREAM } from '../protocol.js';
import { type FolderSendResult, sendFolder } from '../sender.js';
import { type FolderTree, FolderTreeError, type SkippedEntry, walkFolder } from '../tree.js';

export interface SendFolderOutput extends FolderSendResult {
  peer: string;
}

export default class SendFolder extends MeshCommand<typeof SendFolder> {
  static override summary = 'Send a whole folder to another agent as a streamed ZIP, extracted safely.';
  static override description =
    'The folder goes over one `zip` stream as a ZIP made on the fly (stored, or deflated with --compress; ZIP64 ' +
    'when large): no temporary archive on either side. The receiver (`mesh-agent run`) extracts while receiving ' +
    'into a temporary directory of its download directory and moves the folder into place (as `name (1)` when ' +
    'taken) only after every entry and the BLAKE3 of the whole stream checked out. Kept: the tree, empty ' +
    'directories, permission bits, mtimes, UTF-8 names. Symlinks are never followed: --symlinks skip (default: ' +
    'left out, with a warning) or error. Left out too, each with a warning naming it: a name the receiver would ' +
    'refuse (a backslash, control characters, over 255 bytes, not UTF-8), and a file that changed, vanished or ' +
    'cannot be read before its first byte was sent; a file that changes while its bytes are being sent is ' +
    'withdrawn (the receiver deletes what it got of it), or with an older receiver fails the whole folder ' +
    '(CHANGED). Progress goes to stderr; --json prints root, savedAs, files, dirs, bytes (those ' +
    'sent), zipBytes, hash, seconds, mbPerSecond, skipped (a list of {path, reason}). Ctrl-C (or SIGTERM) cancels: the receiver is told at once and ' +
    'drops the partial folder; the command exits 130 (143).';
  static override examples = [
    '<%= config.bin %> send-folder ./photos --to agent-1234',
    '<%= config.bin %> send-folder ./src --compress --peer-addr 192.0.2.7:7400 --session-id demo --token-file token.txt --peer-fingerprint <sha256>',
  ];
  static override enableJsonFlag = true;
  static override args = {
    dir: Args.string({ required: true, description: 'the folder to send' }),
  };
  static override flags = {
    ...peerFlags,
    compress: Flags.boolean({ summary: 'Deflate the entries (default: stored, fastest on a fast link).' }),
    symlinks: Flags.option({
      options: SYMLINK_POLICIES,
      summary: 'What to do with symlinks in the folder: skip them (with a warning) or stop with an error.',
    })(),
  };

  async run(): Promise<SendFolderOutput> {
    return cancelOnSignal('cancelled; the receiver dropped the partial folder', (signal) =>
      this.send(signal),
    );
  }

  private send(signal: AbortSignal): Promise<SendFolderOutput> {
    const target = targetFromFlags(this.flags);
    return this.withPlugin(folderZip, 'oneshot', signalingOverrides(this.flags), async ({ host, config }) => {
      const policy: SymlinkPolicy = this.flags.symlinks ?? config.symlinks;
      let tree: FolderTree;
      try {
        tree = await walkFolder(resolve(this.args.dir), policy);
      } catch (error) {
        if (error instanceof FolderTreeError) throw new UsageError(error.message);
        throw error;
      }
      // Straight to stderr: oclif drops warnings in --json mode, and a skipped file must never go unnoticed.
      const warn = ({ path, reason }: SkippedEntry) =>
        process.stderr.write(`warning: ${printable(`${tree.root}/${path}`)}: not sent (${reason})\n`);
      for (const skipped of tree.skipped) warn(skipped);
      const opened = await unlessCancelled(host.openStream(target, ZIP_STREAM, OFFER_FIELDS), signal);
      const peer = opened.peer.agentId;
      const events = new FolderEvents(host, {
        root: tree.root,
        files: tree.files,
        bytes: tree.bytes,
        peer,
        direction: 'send',
      });
      const progress = new ProgressReporter();
      const view: Progress = { name: tree.root, size: tree.bytes, done: 0, sent: 0, startedAt: Date.now() };
      const label = (files: number) => `${tree.root} (${files}/${tree.files} files)`;
      try {
        const result = await sendFolder(opened.channel, tree, {
          compress: this.flags.compress,
          signal,
          onStart: () => events.started(),
          onSkip: warn,
          onProgress: (files, bytes) => {
            view.name = label(files);
            view.done = bytes;
            view.sent = bytes;
            progress.update(view);
            events.advanced(files, bytes);
          },
        });
        events.completed(result.hash, { savedAs: result.savedAs, files: result.files, bytes: result.bytes });
        progress.finish(view, 'verified');
        const skipped = result.skipped.length > 0 ? `, ${result.skipped.length} skipped` : '';
        if (!this.jsonEnabled())
          this.log(
            `${tree.root} → ${result.savedAs}  ${fileCount(result.files)}, ${formatBytes(result.bytes)}${skipped}  blake3 ${result.hash}`,
          );
        return { peer, ...result };
      } catch (error) {
        const code = error instanceof TransferError ? error.code : 'IO_ERROR';
        events.failed(code, (error as Error).message);
        progress.stopped(view, code);
        throw error;
      }
    });
  }
}
