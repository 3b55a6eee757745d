import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { FrameChannel } from '@mesh-agent/host';
import {
  MeshCommand,
  PartialFailure,
  peerFlags,
  signalingOverrides,
  targetFromFlags,
  UsageError,
} from '@mesh-agent/host';
import { Args } from '@oclif/core';
import { cancelOnSignal, unlessCancelled } from '../cancel.js';
import { TransferEvents } from '../events.js';
import fileTransfer from '../index.js';
import { checkFileName, UnsafeNameError } from '../names.js';
import { endsOnlyThisFile } from '../outcome.js';
import { ProgressReporter } from '../progress.js';
import { FILE_STREAM, TransferError } from '../protocol.js';
import { type OutgoingFile, type SendResult, sendFile } from '../sender.js';

/** A file the receiver refused or failed; the command went on with the next one. */
export interface FailedFile {
  name: string;
  error: { code: string; message: string };
}

export interface SendFileOutput {
  peer: string;
  /** Every file in command-line order: sent (SendResult) or not (FailedFile). */
  files: Array<SendResult | FailedFile>;
}

export default class SendFile extends MeshCommand<typeof SendFile> {
  static override summary = 'Send files to another agent: BLAKE3-verified, resumable.';
  static override description =
    'Each file goes over its own `file` stream. The receiver (`mesh-agent run`) stores it in its download directory ' +
    'under its accept policy, verifies the BLAKE3 of the whole file, and keeps an interrupted transfer so that ' +
    'sending the same file again only carries what is missing (after both sides compared the hash of the prefix). ' +
    'Ctrl-C (or SIGTERM) cancels: the receiver is told at once and keeps what arrived, the command exits 130 ' +
    '(143), and running it again resumes. ' +
    'A file the receiver refuses or fails (too large, not allowed, its disk full…) is named with the reason and ' +
    'the next file goes; a lost connection stops the command. ' +
    'Progress goes to stderr; --json prints per file: name, savedAs, size, hash, seconds, mbPerSecond, bytesSent, resumedFrom, ' +
    'or name and error {code, message} for a file that was not sent. ' +
    'When any file was not sent the command exits 1; with --json the same object has a top-level ' +
    'error {code: "files_failed", message} that says how many were sent and why the others were not.';
  static override examples = [
    '<%= config.bin %> send-file report.pdf photos.tar --to agent-1234',
    '<%= config.bin %> send-file big.iso --peer-addr 192.0.2.7:7400 --session-id demo --token-file token.txt --peer-fingerprint <sha256>',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    file: Args.string({ required: true, description: 'files to send (one or more)' }),
  };
  static override flags = { ...peerFlags };

  async run(): Promise<SendFileOutput> {
    const { argv } = await this.parse({
      flags: SendFile.flags,
      baseFlags: MeshCommand.baseFlags,
      enableJsonFlag: true,
      args: SendFile.args,
      strict: false,
    });
    const files = await outgoingFiles(argv as string[]);
    const target = targetFromFlags(this.flags);
    return cancelOnSignal('cancelled; run the same command again to resume', (signal) =>
      this.send(files, target, signal),
    );
  }

  private send(
    files: OutgoingFile[],
    target: ReturnType<typeof targetFromFlags>,
    signal: AbortSignal,
  ): Promise<SendFileOutput> {
    return this.withPlugin(
      fileTransfer,
      'oneshot',
      signalingOverrides(this.flags),
      async ({ host, config }) => {
        const { chunkSize } = config;
        const progress = new ProgressReporter();
        const results: SendFileOutput['files'] = [];
        const failed: FailedFile[] = [];
        let opened: Awaited<ReturnType<typeof host.openStream>> | undefined;
        for (const file of files) {
          let channel: FrameChannel;
          if (opened) channel = await unlessCancelled(opened.connection.openStream(FILE_STREAM), signal);
          else {
            opened = await unlessCancelled(host.openStream(target, FILE_STREAM), signal);
            channel = opened.channel;
          }
          const peerId = opened.peer.agentId;
          const size = (await stat(file.path)).size;
          const events = new TransferEvents(host, { name: file.name, size, peer: peerId, direction: 'send' });
          const view = { name: file.name, size, done: 0, sent: 0, startedAt: Date.now() };
          try {
            const result = await sendFile(channel, file, {
              chunkSize,
              signal,
              // A cancel during the prefix check then says what the receiver keeps.
              onOffer: (offset) => {
                view.done = offset;
              },
              onStart: (from) => {
                view.done = from;
                events.started(from);
              },
              onProgress: (done, sent) => {
                view.done = done;
                view.sent = sent;
                progress.update(view);
                events.bytes(done);
              },
            });
            events.completed(result.hash, { savedAs: result.savedAs, resumedFrom: result.resumedFrom });
            progress.finish(
              view,
              result.resumedFrom > 0 ? `verified (resumed at ${result.resumedFrom})` : 'verified',
            );
            if (!this.jsonEnabled()) this.log(`${result.name} → ${result.savedAs}  blake3 ${result.hash}`);
            results.push(result);
          } catch (error) {
            const code = error instanceof TransferError ? error.code : 'IO_ERROR';
            events.failed(code, (error as Error).message);
            progress.stopped(view, code);
            if (!endsOnlyThisFile(error)) throw error;
            // Lower case like every --json code (too_large); events keep the protocol's TOO_LARGE.
            const failure = {
              name: file.name,
              error: { code: error.code.toLowerCase(), message: error.message },
            };
            results.push(failure);
            failed.push(failure);
          }
        }
        const route = opened ? await opened.connection.route() : null;
        const output = {
          peer: opened?.peer.agentId ?? '',
          ...(route ? { path: route.path, rttMs: route.rttMs } : {}),
          files: results,
        };
        if (failed.length > 0)
          throw new PartialFailure('files_failed', notSent(files.length, failed), output);
        return output;
      },
    );
  }
}

/** `2 of 3 files sent; report.pdf: <why>`: what a user reads last when some files did not go. */
function notSent(total: number, failed: FailedFile[]): string {
  const sent = `${total - failed.length} of ${total} file${total === 1 ? '' : 's'} sent`;
  return [sent, ...failed.map((f) => `${f.name}: ${f.error.message}`)].join('; ');
}

/** The files named on the command line, checked before anything connects. */
async function outgoingFiles(paths: string[]): Promise<OutgoingFile[]> {
  if (paths.length === 0) throw new UsageError('name at least one file to send');
  const files: OutgoingFile[] = [];
  for (const path of paths) {
    const full = resolve(path);
    const info = await stat(full).catch(() => undefined);
    if (!info) throw new UsageError(`${path}: no such file`);
    if (!info.isFile()) throw new UsageError(`${path}: not a regular file`);
    if (
      !(await access(full, constants.R_OK).then(
        () => true,
        () => false,
      ))
    )
      throw new UsageError(`${path}: cannot be read: permission denied`);
    try {
      files.push({ path: full, name: checkFileName(basename(full)) });
    } catch (error) {
      if (error instanceof UnsafeNameError) throw new UsageError(`${path}: ${error.message}`);
      throw error;
    }
  }
  return files;
}
