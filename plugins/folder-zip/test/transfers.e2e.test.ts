import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFile,
  chmod,
  chown,
  lstat,
  mkdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CliProcess,
  eventually,
  runCli,
  runCliInTty,
  TempDirs,
} from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  canDropPrivilege,
  NOBODY,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { joined, parseJson } from '../../file-transfer/test/helpers/fixtures.js';
import type { SendFolderOutput } from '../src/commands/send-folder.js';
import { PARTIAL_DIR } from '../src/receiver.js';
import { listTree, makeFolderAgent } from './helpers/agents.js';

const MTIME = 1_600_000_000;

/** A tree with nested and empty directories, unicode names, an executable and a symlink. */
async function makeTree(dir: string): Promise<string> {
  const root = join(dir, 'projekt ü');
  await mkdir(join(root, 'src/deep/er'), { recursive: true });
  await mkdir(join(root, 'empty/inner-empty'), { recursive: true });
  await writeFile(join(root, 'README.md'), '# hello\n');
  await writeFile(join(root, 'src/deep/er/データ.bin'), Buffer.alloc(300_000, 3));
  await writeFile(join(root, 'src/run.sh'), '#!/bin/sh\necho ok\n');
  await chmod(join(root, 'src/run.sh'), 0o755);
  await writeFile(join(root, 'src/secret.txt'), 'private');
  await chmod(join(root, 'src/secret.txt'), 0o600);
  await writeFile(join(root, 'zero'), '');
  await symlink('/etc/passwd', join(root, 'link-out'));
  await utimes(join(root, 'README.md'), MTIME, MTIME);
  await utimes(join(root, 'empty/inner-empty'), MTIME, MTIME);
  return root;
}

describe('send-folder between real processes', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  let bob: Agent;
  let work: string;
  const to = () => ['--to', bob.id, '--server', server.url];
  const downloads = () => join(bob.home, 'downloads');
  const extra: Agent[] = [];

  beforeAll(async () => {
    server = await startServer(dirs);
    [alice, bob] = await Promise.all([
      makeFolderAgent(dirs),
      makeFolderAgent(dirs, { folderZip: { maxCompressionRatio: 2000 } }),
    ]);
    await startDaemon(bob, ['--server', server.url]);
    await joined(server, bob);
    work = await dirs.make('mesh-fz-work-');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([bob?.proc?.stop(), server?.proc.stop(), ...extra.map((a) => a.proc?.stop())]);
    await dirs.cleanup();
  });

  it.each([false, true])(
    'sends a tree (compress: %s): layout, contents, modes, mtimes kept; symlink skipped',
    async (compress) => {
      const root = await makeTree(await dirs.make('mesh-fz-tree-'));
      const args = ['send-folder', root, ...to(), '--json', ...(compress ? ['--compress'] : [])];
      const result = await runCli(args, alice.env, { timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      const out = parseJson<SendFolderOutput>(result);
      expect(out).toMatchObject({
        root: 'projekt ü',
        files: 5,
        dirs: 6,
        bytes: 300_000 + 8 + 18 + 7,
        skipped: [{ path: 'link-out', reason: 'a symlink; symlinks are never followed' }],
      });
      expect(out.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(result.stderr).toMatch(/link-out: not sent/);
      const got = join(downloads(), out.savedAs);
      expect(await listTree(got)).toEqual([
        'README.md',
        'empty/',
        'empty/inner-empty/',
        'src/',
        'src/deep/',
        'src/deep/er/',
        'src/deep/er/データ.bin',
        'src/run.sh',
        'src/secret.txt',
        'zero',
      ]);
      for (const file of ['README.md', 'src/deep/er/データ.bin', 'src/run.sh', 'zero'])
        expect((await readFile(join(got, file))).equals(await readFile(join(root, file)))).toBe(true);
      expect((await stat(join(got, 'src/run.sh'))).mode & 0o777).toBe(0o755);
      expect((await stat(join(got, 'src/secret.txt'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(got, 'README.md'))).mtimeMs).toBe(MTIME * 1000);
      expect((await stat(join(got, 'empty/inner-empty'))).mtimeMs).toBe(MTIME * 1000);
      await expect(lstat(join(got, 'link-out'))).rejects.toThrow();
      expect(await listTree(join(downloads(), PARTIAL_DIR))).toEqual([]);
      // The receiver also emitted its events (logged by the daemon).
      expect(bob.proc?.stderr).toMatch(/folder received and verified/);
    },
    60_000,
  );

  it.each([false, true])(
    'sends multi-MiB files between small ones byte for byte, frame memory reused (compress: %s)',
    async (compress) => {
      // Sizes around the 1 MiB frame and read sizes, small files in between: the receiver hands
      // frame bodies back for reuse, and any piece still in use when that happens would show here.
      const root = join(await dirs.make('mesh-fz-mixed-'), 'mixed');
      await mkdir(join(root, 'd'), { recursive: true });
      const sizes = [3 * 1024 * 1024 + 7, 1024 * 1024, 5 * 1024 * 1024 - 1, 1024 * 1024 + 1, 2 * 1024 * 1024];
      for (const [i, size] of sizes.entries()) {
        await writeFile(join(root, `big-${i}.bin`), randomBytes(size));
        await writeFile(join(root, 'd', `small-${i}.txt`), `small file ${i}\n`.repeat(i * 50 + 1));
      }
      const args = ['send-folder', root, ...to(), '--json', ...(compress ? ['--compress'] : [])];
      const result = await runCli(args, alice.env, { timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      const got = join(downloads(), parseJson<SendFolderOutput>(result).savedAs);
      for (const [i] of sizes.entries()) {
        expect(
          (await readFile(join(got, `big-${i}.bin`))).equals(await readFile(join(root, `big-${i}.bin`))),
        ).toBe(true);
        expect(await readFile(join(got, 'd', `small-${i}.txt`), 'utf8')).toBe(
          await readFile(join(root, 'd', `small-${i}.txt`), 'utf8'),
        );
      }
    },
    60_000,
  );

  it('keeps both folders on a name collision: name (1), the first untouched', async () => {
    const base = await dirs.make('mesh-fz-coll-');
    await mkdir(join(base, 'same'));
    await writeFile(join(base, 'same/a.txt'), 'first');
    const first = await runCli(['send-folder', join(base, 'same'), ...to(), '--json'], alice.env);
    expect(first.code, first.stderr).toBe(0);
    await writeFile(join(base, 'same/a.txt'), 'second');
    const second = await runCli(['send-folder', join(base, 'same'), ...to(), '--json'], alice.env);
    expect(second.code, second.stderr).toBe(0);
    expect(parseJson<SendFolderOutput>(second).savedAs).toBe('same (1)');
    expect(await readFile(join(downloads(), 'same/a.txt'), 'utf8')).toBe('first');
    expect(await readFile(join(downloads(), 'same (1)/a.txt'), 'utf8')).toBe('second');
  }, 60_000);

  it('sends 10,000 small files in 100 directories', async () => {
    const root = join(work, 'many');
    for (let d = 0; d < 100; d++) {
      await mkdir(join(root, `d${d}`), { recursive: true });
      await Promise.all(
        Array.from({ length: 100 }, (_, f) =>
          writeFile(join(root, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`),
        ),
      );
    }
    const result = await runCli(['send-folder', root, ...to(), '--json'], alice.env, { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const out = parseJson<SendFolderOutput>(result);
    expect(out).toMatchObject({ files: 10_000, dirs: 101 });
    const got = join(downloads(), out.savedAs);
    expect((await listTree(got)).filter((p) => !p.endsWith('/'))).toHaveLength(10_000);
    expect(await readFile(join(got, 'd42/f17.txt'), 'utf8')).toBe('file 42/17\n');
  }, 150_000);

  it('sends a file over 4 GiB (sparse, deflated on the wire) through ZIP64', async () => {
    const root = join(work, 'huge');
    await mkdir(root);
    execFileSync('truncate', ['-s', '4100M', join(root, 'sparse.img')]);
    await writeFile(join(root, 'after.txt'), 'after the big one');
    const result = await runCli(['send-folder', root, ...to(), '--json', '--compress'], alice.env, {
      timeoutMs: 240_000,
    });
    expect(result.code, result.stderr).toBe(0);
    const out = parseJson<SendFolderOutput>(result);
    expect(out.bytes).toBe(4100 * 1024 * 1024 + 17);
    const got = join(downloads(), out.savedAs);
    expect((await stat(join(got, 'sparse.img'))).size).toBe(4100 * 1024 * 1024);
    expect(await readFile(join(got, 'after.txt'), 'utf8')).toBe('after the big one');
    execFileSync('rm', ['-rf', got, root]);
  }, 300_000);

  it('--symlinks error stops before connecting, with a clear message', async () => {
    const root = await makeTree(await dirs.make('mesh-fz-sym-'));
    const result = await runCli(['send-folder', root, ...to(), '--symlinks', 'error'], alice.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/link-out is a symlink/);
  });

  it('removes the partial folder when the sender is killed mid-stream', async () => {
    const root = join(work, 'killed');
    await mkdir(root);
    execFileSync('head', ['-c', String(400 * 1024 * 1024), '/dev/urandom'], {
      stdio: ['ignore', (await import('node:fs')).openSync(join(root, 'big.bin'), 'w'), 'ignore'],
    });
    const sender = new CliProcess(['send-folder', root, ...to(), '--json'], alice.env);
    await eventually(
      async () => (await listTree(join(downloads(), PARTIAL_DIR))).some((p) => p.endsWith('big.bin')),
      60_000,
      20,
    );
    sender.child.kill('SIGKILL');
    await sender.exited;
    await eventually(async () => (await listTree(join(downloads(), PARTIAL_DIR))).length === 0, 20_000);
    expect(await listTree(downloads())).not.toContain('killed/');
  }, 90_000);

  it('leaves out files that change while their bytes stream (grown, truncated); the rest arrives', async () => {
    const root = join(work, 'streaming');
    await mkdir(root);
    await writeFile(join(root, 'a-grows.bin'), randomBytes(96 * 1024 * 1024));
    await writeFile(join(root, 'b-kept.txt'), 'between them');
    await writeFile(join(root, 'c-shrinks.bin'), randomBytes(96 * 1024 * 1024));
    await writeFile(join(root, 'd-kept.bin'), randomBytes(3 * 1024 * 1024));
    const original = await readFile(join(root, 'd-kept.bin'));
    let exited = false;
    const stopWatching = () => {
      exited = true;
    };
    /** Changes `name` once the receiver started writing it (over 1 MiB of it arrived). */
    const whileStreaming = async (name: string, change: () => Promise<void>) => {
      await eventually(
        async () => exited || (await listTree(join(downloads(), PARTIAL_DIR))).some((p) => p.endsWith(name)),
        60_000,
        10,
      );
      if (!exited) await change();
    };
    const sending = runCli(['send-folder', root, ...to(), '--json'], alice.env, { timeoutMs: 90_000 });
    sending.then(stopWatching, stopWatching);
    await whileStreaming('a-grows.bin', () => appendFile(join(root, 'a-grows.bin'), 'one more line\n'));
    await whileStreaming('c-shrinks.bin', () => truncate(join(root, 'c-shrinks.bin'), 1024 * 1024));
    const result = await sending;
    expect(result.code, result.stderr).toBe(0);
    const out = parseJson<SendFolderOutput>(result);
    const reason = 'it changed while it was being sent';
    expect(out.skipped).toEqual([
      { path: 'a-grows.bin', reason },
      { path: 'c-shrinks.bin', reason },
    ]);
    expect(out).toMatchObject({ files: 2, bytes: 12 + 3 * 1024 * 1024 });
    expect(result.stderr).toMatch(
      /^warning: streaming\/a-grows\.bin: not sent \(it changed while it was being sent\)$/m,
    );
    expect(result.stderr).toMatch(
      /^warning: streaming\/c-shrinks\.bin: not sent \(it changed while it was being sent\)$/m,
    );
    const got = join(downloads(), out.savedAs);
    // No trace of either: no partial file in the folder, nothing left in the temporary directory.
    expect(await listTree(got)).toEqual(['b-kept.txt', 'd-kept.bin']);
    expect(await readFile(join(got, 'b-kept.txt'), 'utf8')).toBe('between them');
    expect((await readFile(join(got, 'd-kept.bin'))).equals(original)).toBe(true);
    expect(await listTree(join(downloads(), PARTIAL_DIR))).toEqual([]);
    // The daemon counts what it kept.
    expect(bob.proc?.stderr).toMatch(/"files":2,"bytes":3145740,"withdrawn":2/);

    // Without --json: the warning, and the count on the last line.
    await writeFile(join(root, 'a-grows.bin'), randomBytes(96 * 1024 * 1024));
    exited = false;
    const plain = runCli(['send-folder', root, ...to()], alice.env, { timeoutMs: 90_000 });
    plain.then(stopWatching, stopWatching);
    await whileStreaming('a-grows.bin', () => truncate(join(root, 'a-grows.bin'), 10));
    const human = await plain;
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(
      /^warning: streaming\/a-grows\.bin: not sent \(it changed while it was being sent\)$/m,
    );
    expect(human.stdout).toMatch(
      /^streaming → streaming \(1\) {2}3 files, [^,]+, 1 skipped {2}blake3 [0-9a-f]{64}$/m,
    );
    expect(await listTree(join(downloads(), 'streaming (1)'))).toEqual([
      'b-kept.txt',
      'c-shrinks.bin',
      'd-kept.bin',
    ]);
    expect(await listTree(join(downloads(), PARTIAL_DIR))).toEqual([]);
  }, 180_000);

  it('leaves out names the receiver would refuse, each named with why; the rest arrives', async () => {
    const root = join(await dirs.make('mesh-fz-names-'), 'names');
    await mkdir(join(root, 'bad\u0001dir'), { recursive: true });
    await writeFile(join(root, 'bad\u0001dir', 'inside.txt'), 'never sent');
    await writeFile(join(root, 'back\\slash.txt'), 'windows would split this');
    // Latin-1 "fé.txt": not UTF-8, so no name the receiver could write.
    await writeFile(
      Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74])]),
      'x',
    );
    await writeFile(join(root, 'ok.txt'), 'fine');
    const result = await runCli(['send-folder', root, ...to(), '--json'], alice.env, { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const out = parseJson<SendFolderOutput>(result);
    expect(out).toMatchObject({ files: 1, bytes: 4 });
    expect(out.skipped).toEqual([
      {
        path: 'back\\slash.txt',
        reason: expect.stringMatching(/^the receiver would refuse it: .*path separator/),
      },
      {
        path: 'bad\u0001dir',
        reason: expect.stringMatching(/^the receiver would refuse it: .*control characters/),
      },
      { path: 'f\ufffd.txt', reason: 'its name is not valid UTF-8' },
    ]);
    expect(result.stderr).toMatch(
      /^warning: names\/back\\slash\.txt: not sent \(the receiver would refuse it: /m,
    );
    expect(result.stderr).not.toContain('\u0001');
    expect(await listTree(join(downloads(), out.savedAs))).toEqual(['ok.txt']);

    const human = await runCliInTty(['send-folder', root, ...to()], alice.env);
    expect(human.code, human.output).toBe(0);
    expect(human.output).toMatch(
      /^names → names \(1\) {2}1 file, 4 B, 3 skipped {2}blake3 [0-9a-f]{64}\r?$/m,
    );
  }, 60_000);

  it('leaves out files that change or vanish before they are read; the rest arrives', async () => {
    const root = join(work, 'busy');
    await mkdir(root);
    // Sent first and big enough to change the others while it streams.
    await writeFile(join(root, 'a-first.bin'), randomBytes(128 * 1024 * 1024));
    await writeFile(join(root, 'x-gone.txt'), 'deleted in the meantime');
    await writeFile(join(root, 'y-small.log'), 'small log\n');
    await writeFile(join(root, 'z-large.log'), randomBytes(2 * 1024 * 1024));
    await writeFile(join(root, 'zz-kept.txt'), 'unchanged');
    const sending = runCli(['send-folder', root, ...to(), '--json'], alice.env, { timeoutMs: 60_000 });
    await eventually(
      async () => (await listTree(join(downloads(), PARTIAL_DIR))).some((p) => p.endsWith('a-first.bin')),
      60_000,
      10,
    );
    await rm(join(root, 'x-gone.txt'));
    await appendFile(join(root, 'y-small.log'), 'one more line\n');
    await appendFile(join(root, 'z-large.log'), 'one more line\n');
    const result = await sending;
    expect(result.code, result.stderr).toBe(0);
    const out = parseJson<SendFolderOutput>(result);
    expect(out.skipped).toEqual([
      { path: 'x-gone.txt', reason: 'it vanished after the folder was listed' },
      { path: 'y-small.log', reason: 'it changed after the folder was listed' },
      { path: 'z-large.log', reason: 'it changed after the folder was listed' },
    ]);
    expect(out).toMatchObject({ files: 2, bytes: 128 * 1024 * 1024 + 9 });
    expect(result.stderr).toMatch(
      /^warning: busy\/y-small\.log: not sent \(it changed after the folder was listed\)$/m,
    );
    const got = join(downloads(), out.savedAs);
    expect(await listTree(got)).toEqual(['a-first.bin', 'zz-kept.txt']);
    expect((await readFile(join(got, 'a-first.bin'))).equals(await readFile(join(root, 'a-first.bin')))).toBe(
      true,
    );
    // The daemon says what arrived, not what was announced.
    expect(bob.proc?.stderr).toMatch(/"files":2,"bytes":134217737/);
  }, 90_000);

  it.runIf(canDropPrivilege())(
    'leaves out a file and a directory the sending user may not read; the rest arrives',
    async () => {
      const carol = await makeFolderAgent(dirs, { unprivileged: true });
      const root = join(work, 'mixed');
      await mkdir(join(root, 'locked'), { recursive: true });
      await writeFile(join(root, 'locked/inside.txt'), 'private');
      await writeFile(join(root, 'open.txt'), 'anyone');
      await writeFile(join(root, 'secret.txt'), 'private');
      for (const [path, mode] of [
        ['locked', 0o700],
        ['secret.txt', 0o600],
      ] as const) {
        await chown(join(root, path), NOBODY, NOBODY);
        await chmod(join(root, path), mode);
      }
      const result = await runCli(['send-folder', root, ...to(), '--json'], carol.env, { cli: carol.cli });
      expect(result.code, result.stderr).toBe(0);
      const out = parseJson<SendFolderOutput>(result);
      expect(out.skipped).toEqual([
        { path: 'locked', reason: 'it cannot be read: permission denied' },
        { path: 'secret.txt', reason: 'it cannot be read: permission denied' },
      ]);
      expect(result.stderr).toMatch(
        /^warning: mixed\/locked: not sent \(it cannot be read: permission denied\)$/m,
      );
      expect(await listTree(join(downloads(), out.savedAs))).toEqual(['open.txt']);

      // The folder itself unreadable: said at once, before connecting.
      await chown(root, NOBODY, NOBODY);
      await chmod(root, 0o700);
      const refused = await runCli(['send-folder', root, ...to()], carol.env, { cli: carol.cli });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toBe(`error: ${root}: cannot be read: permission denied\n`);
    },
    60_000,
  );

  it.runIf(process.getuid?.() === 0)(
    'leaves out a file whose read fails with an I/O error; the rest arrives',
    async () => {
      const root = join(work, 'failing-disk');
      await mkdir(root);
      await writeFile(join(root, 'a.txt'), 'before');
      await writeFile(join(root, 'bad.bin'), '');
      await writeFile(join(root, 'c.txt'), 'after');
      // A real EIO: a live process's memory file, read at offset 0 (never mapped), bound over bad.bin.
      const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
      execFileSync('mount', ['--bind', `/proc/${owner.pid}/mem`, join(root, 'bad.bin')]);
      try {
        const result = await runCli(['send-folder', root, ...to(), '--json'], alice.env);
        expect(result.code, result.stderr).toBe(0);
        const out = parseJson<SendFolderOutput>(result);
        expect(out.skipped).toEqual([{ path: 'bad.bin', reason: 'it cannot be read: input/output error' }]);
        expect(result.stderr).toMatch(
          /^warning: failing-disk\/bad\.bin: not sent \(it cannot be read: input\/output error\)$/m,
        );
        expect(await listTree(join(downloads(), out.savedAs))).toEqual(['a.txt', 'c.txt']);
      } finally {
        execFileSync('umount', [join(root, 'bad.bin')]);
        owner.kill();
      }
    },
    60_000,
  );

  it('at a terminal: a missing folder is named; a daemon without --json says what arrived and where', async () => {
    const missing = join(work, 'nonexistent');
    const result = await runCliInTty(['send-folder', missing, ...to()], alice.env);
    expect(result.code).toBe(2);
    expect(result.output).toBe(`error: no such folder: ${missing}\n`);

    const carol = await makeFolderAgent(dirs);
    extra.push(carol);
    await startDaemon(carol, ['--server', server.url], { human: true });
    await joined(server, carol);
    const root = join(await dirs.make('mesh-fz-words-'), 'letters');
    await mkdir(join(root, 'inner'), { recursive: true });
    await writeFile(join(root, 'a.txt'), 'a');
    await writeFile(join(root, 'inner', 'b.txt'), 'bb');
    const sent = await runCliInTty(
      ['send-folder', root, '--to', carol.id, '--server', server.url],
      alice.env,
    );
    expect(sent.code, sent.output).toBe(0);
    expect(sent.output).toMatch(/^letters → letters {2}2 files, 3 B {2}blake3 [0-9a-f]{64}$/m);
    const saved = join(carol.home, 'downloads', 'letters');
    await carol.proc!.waitForLine(
      (line) => line === `received folder letters (2 files, 3 B) from ${alice.id} → ${saved}`,
    );
  });

  it('refuses to run folder-zip without file-transfer, with a clear error', async () => {
    const lonely = await makeFolderAgent(dirs, { fileTransfer: false });
    const result = await runCli(['run', '--listen', '127.0.0.1:0', '--json'], lonely.env);
    expect(result.code).toBe(2);
    expect(result.stdout + result.stderr).toMatch(/folder-zip needs the file-transfer plugin/);
    const send = await runCli(['send-folder', work, '--to', 'x', '--server', server.url], lonely.env);
    expect(send.code).toBe(2);
    expect(send.stderr).toMatch(/folder-zip needs the file-transfer plugin/);
  });
});
