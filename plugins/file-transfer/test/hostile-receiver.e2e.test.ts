import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The in-process receiver is built from the host's sources, as the helper that starts it.
import { definePlugin, type FrameChannel, type Host } from '../../../packages/host/src/index.js';
import { directSession, startHost } from '../../../packages/host/test/helpers/hosts.js';
import { FILE_STREAM, registerFileMessages } from '../src/protocol.js';
import { makeFileAgent, runCli, TempDirs } from './helpers/fixtures.js';

/** Clears the screen and retitles the window, if a terminal ever executed it. */
const ESCAPES = '\x1b[2J\x1b]0;owned\x07\x9b31m';

/** The raw bytes of ESCAPES that would act on a terminal. */
const rawControls = (output: string) => ['\x1b', '\x07', '\x9b'].filter((c) => output.includes(c));

/** What the hostile receiver answers to the next `file` stream. */
let misbehave: (channel: FrameChannel) => Promise<void> = async () => {};

const hostileReceiver = definePlugin({
  name: 'hostile-receiver',
  apply(host) {
    // One class seen twice: the plugin is typed against the host's dist, the helper against its src.
    registerFileMessages(host.messages as unknown as Parameters<typeof registerFileMessages>[0]);
    host.hooks.stream.for(FILE_STREAM).tapPromise('hostile', async ({ channel }) => {
      await misbehave(channel);
      return true;
    });
  },
});

/** Takes the whole file, then answers FILE_VERIFIED with the sender's own hash and `savedAs`. */
async function verifyAs(channel: FrameChannel, savedAs: string): Promise<void> {
  await channel.next(['FILE_META']);
  await channel.send({ type: 'FILE_ACCEPT' });
  for (;;) {
    const frame = await channel.next();
    if (frame.header.type !== 'FILE_DONE') continue;
    await channel.send({ type: 'FILE_VERIFIED', hash: frame.header.hash, saved_as: savedAs });
    await channel.end();
    return;
  }
}

describe('send-file against a receiver that sends terminal escape sequences', () => {
  const dirs = new TempDirs();
  let receiver: Host;
  let file: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    receiver = await startHost(dirs, 'hostile', { plugins: [hostileReceiver] });
    const sender = await makeFileAgent(dirs);
    env = sender.env;
    file = join(sender.home, 'note.txt');
    await writeFile(file, 'hello');
  }, 30_000);
  afterAll(async () => {
    await receiver?.stop();
    await dirs.cleanup();
  });

  const send = async (sessionId: string) => {
    const target = directSession(receiver, sessionId);
    const args = ['send-file', file, '--peer-addr', `127.0.0.1:${target.port}`];
    args.push('--session-id', sessionId, '--token', target.token, '--peer-fingerprint', target.fingerprint);
    return runCli(args, env);
  };
  const expectEscapedOnly = (output: string) => {
    expect(output).toContain('\\x1b[2J\\x1b]0;owned\\x07\\x9b31m');
    expect(rawControls(output)).toEqual([]);
  };

  it('prints a refusal reason with its control characters escaped', async () => {
    misbehave = async (channel) => {
      await channel.next(['FILE_META']);
      await channel.send({ type: 'FILE_REJECT', code: 'NOT_ALLOWED', reason: ESCAPES });
      await channel.end();
    };
    const result = await send('esc-reject');
    expect(result.code).not.toBe(0);
    expectEscapedOnly(result.stderr + result.stdout);
  });

  it('prints the saved path the receiver names with its control characters escaped', async () => {
    misbehave = (channel) => verifyAs(channel, `note${ESCAPES}.txt`);
    const result = await send('esc-saved');
    expect(result.code).toBe(0);
    expectEscapedOnly(result.stdout);
    expect(rawControls(result.stderr)).toEqual([]);
  });

  it('prints a frame header that is not JSON with its control characters escaped', async () => {
    misbehave = async (channel) => {
      await channel.next(['FILE_META']);
      // V8 quotes the text it could not parse in the error message.
      const header = Buffer.from(`x${ESCAPES}`, 'utf8');
      const prefix = Buffer.alloc(6);
      prefix.writeUInt32BE(header.length + 2, 0);
      prefix.writeUInt16BE(header.length, 4);
      channel.duplex.write(Buffer.concat([prefix, header]));
      channel.duplex.end();
    };
    const result = await send('esc-json');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('not valid JSON');
    expectEscapedOnly(result.stderr + result.stdout);
  });
});
