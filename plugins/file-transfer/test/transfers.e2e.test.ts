import { appendFile, chmod, chown, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrap } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  canDropPrivilege,
  NOBODY,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { PARTIAL_DIR } from '../src/part-files.js';
import {
  blake3Of,
  CliProcess,
  eventually,
  joined,
  listFiles,
  makeFileAgent,
  parseJson,
  partBytes,
  randomFile,
  runCli,
  type SentFile,
  TempDirs,
} from './helpers/fixtures.js';

const MIB = 1024 * 1024;
type Output = { peer: string; files: SentFile[] };

describe('send-file between real processes', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  let bob: Agent;
  let work: string;
  const to = () => ['--to', bob.id, '--server', server.url];
  const bobDownloads = () => join(bob.home, 'downloads');

  beforeAll(async () => {
    server = await startServer(dirs);
    [alice, bob] = await Promise.all([makeFileAgent(dirs), makeFileAgent(dirs)]);
    await startDaemon(bob, ['--server', server.url]);
    await joined(server, bob);
    work = await dirs.make('mesh-ft-files-');
  }, 60_000);

  /** Daemons a test starts; stopped here too, so a failing test leaves no process behind. */
  const extra: Agent[] = [];

  afterAll(async () => {
    await Promise.all([bob?.proc?.stop(), server?.proc.stop(), ...extra.map((a) => a.proc?.stop())]);
    await dirs.cleanup();
  });

  it('brokered: sends several files in one command, each verified with BLAKE3', async () => {
    const files = [
      await randomFile(work, 'one.bin', 3 * MIB + 17),
      await randomFile(work, 'two.txt', 1000),
      await randomFile(work, 'empty', 0),
    ];
    const result = await runCli(['send-file', ...files, ...to(), '--json'], alice.env, { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const out = parseJson<Output>(result);
    expect(out.peer).toBe(bob.id);
    expect(out.files.map((f) => f.name)).toEqual(['one.bin', 'two.txt', 'empty']);
    for (const [i, file] of out.files.entries()) {
      const source = files[i] as string;
      expect(file.hash).toBe(await blake3Of(source));
      expect(await blake3Of(join(bobDownloads(), file.savedAs))).toBe(file.hash);
      expect(file).toMatchObject({ size: (await stat(source)).size, resumedFrom: 0, bytesSent: file.size });
      expect(file.seconds).toBeGreaterThan(0);
    }
    expect(result.stderr).toMatch(/one\.bin: verified/);
    expect(await listFiles(join(bobDownloads(), PARTIAL_DIR))).toEqual([]);
  }, 60_000);

  it('keeps both files on a name collision: name (1).ext, the first one untouched', async () => {
    const first = await randomFile(work, 'same.txt', 500);
    expect((await runCli(['send-file', first, ...to(), '--json'], alice.env)).code).toBe(0);
    const original = await readFile(join(bobDownloads(), 'same.txt'));
    const second = await randomFile(await dirs.make(), 'same.txt', 600);
    const result = await runCli(['send-file', second, ...to(), '--json'], alice.env);
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson<Output>(result).files[0]?.savedAs).toBe('same (1).txt');
    expect(await readFile(join(bobDownloads(), 'same.txt'))).toEqual(original);
    expect(await blake3Of(join(bobDownloads(), 'same (1).txt'))).toBe(await blake3Of(second));
  });

  it('runs several transfers at once (two senders to one daemon)', async () => {
    const carol = await makeFileAgent(dirs);
    const [a, c] = [
      await randomFile(work, 'from-a.bin', 4 * MIB),
      await randomFile(work, 'from-c.bin', 4 * MIB),
    ];
    const results = await Promise.all([
      runCli(['send-file', a, ...to(), '--json'], alice.env, { timeoutMs: 60_000 }),
      runCli(['send-file', c, ...to(), '--json'], carol.env, { timeoutMs: 60_000 }),
    ]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(await blake3Of(join(bobDownloads(), 'from-a.bin'))).toBe(await blake3Of(a));
    expect(await blake3Of(join(bobDownloads(), 'from-c.bin'))).toBe(await blake3Of(c));
  }, 60_000);

  it('resumes after the sender is killed at ~50%: the second run sends about half', async () => {
    const size = 96 * MIB;
    const file = await randomFile(work, 'resume.bin', size);
    const first = new CliProcess(['send-file', file, ...to(), '--json'], alice.env);
    await eventually(async () => (await partBytes(bobDownloads())) >= size * 0.4, 60_000, 10);
    first.child.kill('SIGKILL');
    await first.exited;
    const kept = await partBytes(bobDownloads());
    expect(kept).toBeLessThan(size);
    expect(await listFiles(bobDownloads())).not.toContain('resume.bin');

    const second = await runCli(['send-file', file, ...to(), '--json'], alice.env, { timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    const sent = parseJson<Output>(second).files[0] as SentFile;
    expect(sent.resumedFrom).toBeGreaterThanOrEqual(size * 0.3);
    expect(sent.bytesSent).toBe(size - sent.resumedFrom);
    expect(sent.bytesSent).toBeLessThan(size * 0.7);
    expect(await blake3Of(join(bobDownloads(), 'resume.bin'))).toBe(await blake3Of(file));
    expect(sent.hash).toBe(await blake3Of(file));
  }, 120_000);

  it('restarts from 0 when the partial data does not match the file (prefix hashes differ)', async () => {
    const size = 64 * MIB;
    const file = await randomFile(work, 'changed-prefix.bin', size);
    const first = new CliProcess(['send-file', file, ...to(), '--json'], alice.env);
    await eventually(async () => (await partBytes(bobDownloads())) >= size * 0.3, 60_000, 10);
    first.child.kill('SIGKILL');
    await first.exited;
    // Same name, size and mtime, different first bytes: only the prefix hash can tell.
    const { mtime } = await stat(file);
    const handle = await import('node:fs/promises').then((fs) => fs.open(file, 'r+'));
    await handle.write(Buffer.alloc(4096, 0xab), 0, 4096, 0);
    await handle.close();
    await import('node:fs/promises').then((fs) => fs.utimes(file, mtime, mtime));
    const second = await runCli(['send-file', file, ...to(), '--json'], alice.env, { timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    const sent = parseJson<Output>(second).files[0] as SentFile;
    expect(sent).toMatchObject({ resumedFrom: 0, bytesSent: size });
    expect(await blake3Of(join(bobDownloads(), 'changed-prefix.bin'))).toBe(await blake3Of(file));
  }, 120_000);

  it('fails clearly when the file changes while it is being sent, and keeps nothing', async () => {
    const size = 96 * MIB;
    const file = await randomFile(work, 'growing.bin', size);
    const sending = runCli(['send-file', file, ...to(), '--json'], alice.env, { timeoutMs: 60_000 });
    await eventually(async () => (await partBytes(bobDownloads())) > MIB, 60_000, 10);
    await appendFile(file, 'more');
    const result = await sending;
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/changed while it was being sent/);
    await eventually(async () => (await listFiles(join(bobDownloads(), PARTIAL_DIR))).length === 0);
    expect(await listFiles(bobDownloads())).not.toContain('growing.bin');
  }, 60_000);

  it('survives the receiver being killed mid-transfer: the sender fails clearly, a restart resumes', async () => {
    const dave = await makeFileAgent(dirs);
    extra.push(dave);
    await startDaemon(dave, ['--server', server.url]);
    await joined(server, dave);
    const downloads = join(dave.home, 'downloads');
    const size = 96 * MIB;
    const file = await randomFile(work, 'receiver-killed.bin', size);
    const target = ['--to', dave.id, '--server', server.url];
    let early: unknown;
    const sending = runCli(['send-file', file, ...target, '--json'], alice.env, { timeoutMs: 60_000 }).then(
      (r) => {
        early = r;
        return r;
      },
    );
    await eventually(
      async () => {
        if (early)
          throw new Error(`send-file ended before the receiver was killed: ${JSON.stringify(early)}`);
        return (await partBytes(downloads)) >= size * 0.4;
      },
      60_000,
      10,
    );
    await dave.proc?.stop('SIGKILL');
    const result = await sending;
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/connection to the receiver lost|connection|closed/i);
    expect(await listFiles(downloads)).not.toContain('receiver-killed.bin');

    await startDaemon(dave, ['--server', server.url]);
    await joined(server, dave);
    const again = await runCli(['send-file', file, ...target, '--json'], alice.env, { timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(0);
    const sent = parseJson<Output>(again).files[0] as SentFile;
    expect(sent.resumedFrom).toBeGreaterThan(0);
    expect(await blake3Of(join(downloads, 'receiver-killed.bin'))).toBe(await blake3Of(file));
    await dave.proc?.stop();
  }, 120_000);

  it('applies the accept policy and the size limit of the receiver', async () => {
    const erin = await makeFileAgent(dirs, {
      fileTransfer: { accept: 'list', allowFrom: [alice.id], maxSize: 1000 },
    });
    const frank = await makeFileAgent(dirs, { fileTransfer: { accept: 'deny' } });
    await Promise.all([
      startDaemon(erin, ['--server', server.url]),
      startDaemon(frank, ['--server', server.url]),
    ]);
    await Promise.all([joined(server, erin), joined(server, frank)]);
    const small = await randomFile(work, 'small.txt', 100);
    const big = await randomFile(work, 'big.txt', 2000);
    const stranger = await makeFileAgent(dirs);
    const send = (env: NodeJS.ProcessEnv, f: string, peer: Agent) =>
      runCli(['send-file', f, '--to', peer.id, '--server', server.url, '--json'], env);

    expect((await send(alice.env, small, erin)).code).toBe(0);
    const tooBig = await send(alice.env, big, erin);
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stdout + tooBig.stderr).toMatch(/TOO_LARGE/);
    const notListed = await send(stranger.env, small, erin);
    expect(notListed.stdout + notListed.stderr).toMatch(/NOT_ALLOWED.*allowFrom/s);
    const denied = await send(alice.env, small, frank);
    expect(denied.stdout + denied.stderr).toMatch(/NOT_ALLOWED.*deny/s);
    expect(await listFiles(join(erin.home, 'downloads'))).toEqual(['small.txt']);
    expect(await listFiles(join(frank.home, 'downloads'))).toEqual([]);
    await Promise.all([erin.proc?.stop(), frank.proc?.stop()]);
  }, 60_000);

  it('a refused file does not stop the others: each file is in the one --json result, exit 1', async () => {
    const gina = await makeFileAgent(dirs, { fileTransfer: { maxSize: MIB } });
    extra.push(gina);
    await startDaemon(gina, ['--server', server.url]);
    await joined(server, gina);
    const dir = await dirs.make();
    const files = [
      await randomFile(dir, 'first.bin', 1000),
      await randomFile(dir, 'report.pdf', 2 * MIB),
      await randomFile(dir, 'last.bin', MIB),
    ];
    const result = await runCli(
      ['send-file', ...files, '--to', gina.id, '--server', server.url, '--json'],
      alice.env,
    );
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const out = parseJson<Output & { error: Record<string, unknown> }>(result);
    const refusal = expect.stringMatching(
      /^the receiver refused the file \(TOO_LARGE\): 2097152 bytes is above/,
    );
    expect(out).toMatchObject({
      peer: gina.id,
      files: [
        { name: 'first.bin', savedAs: 'first.bin', size: 1000 },
        { name: 'report.pdf', error: { code: 'too_large', message: refusal } },
        { name: 'last.bin', savedAs: 'last.bin', size: MIB },
      ],
      error: {
        code: 'files_failed',
        message: expect.stringMatching(
          /^2 of 3 files sent; report\.pdf: the receiver refused the file \(TOO_LARGE\)/,
        ),
        hint: null,
      },
    });
    const downloads = join(gina.home, 'downloads');
    expect(await listFiles(downloads)).toEqual(['first.bin', 'last.bin']);
    expect(await blake3Of(join(downloads, 'last.bin'))).toBe(await blake3Of(files[2] as string));
    await gina.proc?.stop();
  }, 60_000);

  it('refuses local files that are not regular files before connecting', async () => {
    const result = await runCli(['send-file', work, ...to()], alice.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not a regular file/);
    const missing = await runCli(['send-file', join(work, 'nope'), ...to()], alice.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
  });

  it.runIf(canDropPrivilege())(
    'refuses a file the sending user may not read, before connecting',
    async () => {
      const carol = await makeFileAgent(dirs, { unprivileged: true });
      const secret = join(work, 'secret.txt');
      await writeFile(secret, 'private');
      await chown(secret, NOBODY, NOBODY);
      await chmod(secret, 0o600);
      const result = await runCli(['send-file', secret, ...to()], carol.env, { cli: carol.cli });
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`error: ${secret}: cannot be read: permission denied\n`);
    },
  );
});

describe('send-file in direct mode', () => {
  const dirs = new TempDirs();
  const receivers: Agent[] = [];
  afterAll(async () => {
    await Promise.all(receivers.map((a) => a.proc?.stop()));
    await dirs.cleanup();
  });
  const token = 'direct-mode-token-0123456789';

  async function directReceiver(extra: string[] = []): Promise<Agent> {
    const bob = await makeFileAgent(dirs);
    receivers.push(bob);
    return startDaemon(bob, ['--session-id', 'sess-1', '--accept-token', token, ...extra]);
  }
  const direct = (bob: Agent, t = token) => [
    '--peer-addr',
    `127.0.0.1:${bob.port}`,
    '--session-id',
    'sess-1',
    '--token',
    t,
    '--peer-fingerprint',
    bob.fingerprint,
  ];

  it('sends with a token handed over out of band; the token cannot be used twice', async () => {
    const [alice, bob] = [await makeFileAgent(dirs), await directReceiver()];
    const work = await dirs.make();
    const files = [await randomFile(work, 'a.bin', 2 * MIB), await randomFile(work, 'b.bin', 10)];
    const result = await runCli(['send-file', ...files, ...direct(bob), '--json'], alice.env, {
      timeoutMs: 30_000,
    });
    expect(result.code, result.stderr).toBe(0);
    for (const f of files) {
      const name = f.slice(work.length + 1);
      expect(await blake3Of(join(bob.home, 'downloads', name))).toBe(await blake3Of(f));
    }
    const reused = await runCli(['send-file', files[1] as string, ...direct(bob), '--json'], alice.env);
    expect(reused.code).toBe(1);
    expect(JSON.parse(reused.stdout)).toEqual({
      error: {
        code: 'session_used',
        message: 'the peer already took a session with this token: a direct-mode token works once',
        hint: expect.stringMatching(/fresh session id and token/),
      },
    });
    const wrong = await runCli(
      ['send-file', files[1] as string, ...direct(bob, 'x'.repeat(30)), '--json'],
      alice.env,
    );
    expect(JSON.parse(wrong.stdout).error).toMatchObject({
      code: 'session_bad_token',
      message: 'the peer does not accept this token for the session',
    });
    await bob.proc?.stop();
  }, 60_000);

  it('takes both tokens from files (--accept-token-file, --token-file): neither shows in ps', async () => {
    const secrets = await dirs.make();
    const tokenFile = join(secrets, 'token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const alice = await makeFileAgent(dirs);
    const bob = await makeFileAgent(dirs);
    receivers.push(bob);
    await startDaemon(bob, ['--session-id', 'sess-1', '--accept-token-file', tokenFile]);
    const cmdline = await readFile(`/proc/${bob.proc?.child.pid}/cmdline`, 'utf8');
    expect(cmdline).toContain(tokenFile);
    expect(cmdline).not.toContain(token);
    const file = await randomFile(await dirs.make(), 'quiet.bin', 1000);
    const args = direct(bob).map((arg) =>
      arg === '--token' ? '--token-file' : arg === token ? tokenFile : arg,
    );
    const result = await runCli(['send-file', file, ...args, '--json'], alice.env);
    expect(result.code, result.stderr).toBe(0);
    expect(await blake3Of(join(bob.home, 'downloads', 'quiet.bin'))).toBe(await blake3Of(file));
    const missing = await runCli(
      ['send-file', file, ...args.map((arg) => (arg === tokenFile ? join(secrets, 'nope') : arg))],
      alice.env,
    );
    expect(missing.code).not.toBe(0);
    expect(unwrap(missing.stderr)).toMatch(/cannot read the secret file .*nope/);
    await bob.proc?.stop();
  }, 60_000);

  it('refuses an expired token', async () => {
    const [alice, bob] = [await makeFileAgent(dirs), await directReceiver(['--accept-ttl', '1'])];
    const file = await randomFile(await dirs.make(), 'late.txt', 10);
    await new Promise((r) => setTimeout(r, 1_500));
    const result = await runCli(['send-file', file, ...direct(bob), '--json'], alice.env);
    expect(result.code).not.toBe(0);
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: 'session_expired',
      message: 'the direct-mode token has expired',
    });
    expect(await listFiles(join(bob.home, 'downloads'))).toEqual([]);
    await bob.proc?.stop();
  }, 30_000);
});
