import dgram from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInTty } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  makeAgent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { joined, makeFileAgent, TempDirs } from './helpers/fixtures.js';

/** A pino record on a line of its own. */
const JSON_LOG = /^\{"level":\d+/m;

describe('send-file and the receiving daemon, as a person reads them', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  /** A daemon without --json: its stdout is the lines its user reads; its stderr is piped (JSON logs). */
  let bob: Agent;
  let work: string;

  beforeAll(async () => {
    server = await startServer(dirs);
    // Alice has no config file: her commands run at their default log level.
    [alice, bob] = await Promise.all([
      makeAgent(dirs),
      makeFileAgent(dirs, { fileTransfer: { maxSize: 1000 } }),
    ]);
    await startDaemon(bob, ['--server', server.url], { human: true });
    await joined(server, bob);
    work = await dirs.make('mesh-ft-words-');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  it('at a terminal, a send shows progress and its result, no JSON; the daemon says what arrived and where', async () => {
    const note = join(work, 'note.txt');
    await writeFile(note, 'hello bob\n');
    const result = await runCliInTty(['send-file', note, '--to', bob.id, '--server', server.url], alice.env);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/note\.txt: verified 10 B/);
    expect(result.output).toMatch(/^note\.txt → note\.txt {2}blake3 [0-9a-f]{64}$/m);
    expect(result.output).not.toMatch(JSON_LOG);

    const saved = join(bob.home, 'downloads', 'note.txt');
    await bob.proc!.waitForLine((line) => line === `received note.txt from ${alice.id} → ${saved}`);
    // The daemon's stderr is no terminal: its logs stay JSON for whatever collects them.
    const record = bob.proc!.stderr.match(/^\{"level":30,.*"msg":"file received and verified"\}$/m)?.[0];
    // The file's name has a key of its own: `name` is the logger's.
    expect(JSON.parse(record ?? '{}')).toMatchObject({ name: 'mesh-agent', file: 'note.txt' });
    expect(record?.match(/"name":/g)).toHaveLength(1);
    expect(bob.proc!.lines.join('\n')).not.toMatch(JSON_LOG);
  });

  it('the daemon says in words when it refuses a file', async () => {
    const big = join(work, 'big.bin');
    await writeFile(big, Buffer.alloc(5000));
    const result = await runCliInTty(['send-file', big, '--to', bob.id, '--server', server.url], alice.env);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/^error: .*TOO_LARGE/m);
    await bob.proc!.waitForLine(
      (line) => line.startsWith(`could not receive big.bin from ${alice.id}: `) && line.includes('5000'),
    );
  });

  it('of several files, a refused one is named with its reason at the end; the others arrive', async () => {
    const [one, big, two] = ['one.txt', 'huge.bin', 'two.txt'].map((name) => join(work, name)) as [
      string,
      string,
      string,
    ];
    await writeFile(one, 'one');
    await writeFile(big, Buffer.alloc(5000));
    await writeFile(two, 'two');
    const result = await runCliInTty(
      ['send-file', one, big, two, '--to', bob.id, '--server', server.url],
      alice.env,
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/huge\.bin: FAILED/);
    expect(result.output).toMatch(/^two\.txt → two\.txt {2}blake3 /m);
    expect(result.output).toMatch(
      /^error: 2 of 3 files sent; huge\.bin: the receiver refused the file \(TOO_LARGE\): 5000 bytes is above this agent's limit of 1000\r?$/m,
    );
  });

  it('--to without a server names every way to set one, and direct mode', async () => {
    const note = join(work, 'lonely.txt');
    await writeFile(note, 'x');
    const result = await runCliInTty(['send-file', note, '--to', bob.id], alice.env);
    expect(result.code).toBe(2);
    expect(result.output).toBe(
      `error: no signaling server is set, so this agent cannot reach agent ${bob.id}\n` +
        'hint:  set one (ws://host:7300) with --server, the config key signaling.url or MESH_AGENT_SERVER; ' +
        'or reach the peer in direct mode: --peer-addr, --session-id, --token-file, --peer-fingerprint. ' +
        'To set it once for every command: mesh-agent config set signaling.url ws://…\n',
    );
  });

  // quic.deadPeerMs (4 s): the dial gives up on a silent address; the handshake timeout took 10 s.
  it('direct mode: a peer address where nothing answers fails within seconds, saying so', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const port = silent.address().port;
      const note = join(work, 'for-nobody.txt');
      const token = join(work, 'nobody-token.txt');
      await writeFile(note, 'hello nobody\n');
      await writeFile(token, 'silent-peer-token-0123456789\n');
      const started = Date.now();
      const result = await runCliInTty(
        [
          'send-file',
          note,
          '--peer-addr',
          `127.0.0.1:${port}`,
          '--session-id',
          'silent',
          '--token-file',
          token,
          '--peer-fingerprint',
          'ab'.repeat(32),
        ],
        alice.env,
      );
      const seconds = (Date.now() - started) / 1000;
      expect(result.code, result.output).toBe(1);
      expect(result.output).toContain(`nothing answers at 127.0.0.1:${port} (no reply for 4.0 s)`);
      expect(result.output).toMatch(/hint: {2}is the peer's agent running and listening there/);
      console.log(`direct mode: send-file to a silent address failed after ${seconds.toFixed(1)} s`);
      expect(seconds, 'seconds until send-file gave up').toBeLessThan(8);
    } finally {
      silent.close();
    }
  });

  it('a daemon run with --json prints each event as one JSON record, for scripts to follow', async () => {
    const carol = await makeFileAgent(dirs);
    await startDaemon(carol, ['--server', server.url]);
    try {
      await joined(server, carol);
      const note = join(work, 'for-carol.txt');
      await writeFile(note, 'hello carol\n');
      const result = await runCliInTty(
        ['send-file', note, '--to', carol.id, '--server', server.url],
        alice.env,
      );
      expect(result.code, result.output).toBe(0);
      const completed = await carol.proc!.waitForJson<Record<string, unknown>>('savedAs');
      expect(completed).toMatchObject({
        event: 'transfer.completed',
        direction: 'receive',
        peer: alice.id,
        name: 'for-carol.txt',
        size: 12,
        path: join(carol.home, 'downloads', 'for-carol.txt'),
      });
      // Every line on stdout is a record: the ready one, then the transfer's events in order
      // (with progress records between, as many as its pace gives).
      const events = carol.proc!.lines.map((line) => (JSON.parse(line) as { event: string }).event);
      expect(events.filter((e) => e !== 'transfer.progress')).toEqual([
        'ready',
        'transfer.started',
        'transfer.completed',
      ]);
      expect(await carol.proc!.stop()).toBe(0);
      expect(carol.proc!.lines.at(-1)).toBe('{"event":"stopped","signal":"SIGTERM"}');
    } finally {
      await carol.proc?.stop();
    }
  });
});
