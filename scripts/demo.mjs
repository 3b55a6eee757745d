#!/usr/bin/env node
// The README's demo: a local signaling server and two agents on loopback doing real work
// through the same CLI a user runs. Everything lives in a temporary directory, removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = resolve(import.meta.dirname, '../bin/run.js');
const root = mkdtempSync(join(tmpdir(), 'mesh-agent-demo-'));
const children = [];

function envFor(name) {
  return {
    ...process.env,
    MESH_AGENT_HOME: join(root, name),
    MESH_AGENT_DATA_DIR: join(root, name, 'oclif'),
    MESH_AGENT_LOG_LEVEL: 'warn',
  };
}

/** Runs a command to completion and returns its stdout; fails the demo on a non-zero exit. */
function cli(name, args) {
  const result = spawnSync(process.execPath, [BIN, ...args], { env: envFor(name), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`mesh-agent ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** Starts a long-running command and resolves with its first JSON stdout line. */
function start(name, args) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: envFor(name),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolvePromise, reject) => {
    child.once('exit', (code) => reject(new Error(`mesh-agent ${args[0]} exited early (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolvePromise(JSON.parse(line)));
  });
}

function step(text) {
  console.log(`\n== ${text}`);
}

async function main() {
  step('signaling server (open mode, loopback only)');
  const server = await start('server', [
    'server',
    '--port',
    '0',
    '--open',
    '--json',
    '--log-level',
    'warn',
    '--data-dir',
    join(root, 'server'),
  ]);
  console.log(`listening on ${server.url}`);

  step('two agents join the room');
  const [alice, bob] = await Promise.all(
    ['alice', 'bob'].map((name) =>
      start(name, ['run', '--server', server.url, '--listen', '127.0.0.1:0', '--json']),
    ),
  );
  for (const [name, a] of [
    ['alice', alice],
    ['bob', bob],
  ]) {
    console.log(
      `${name}: ${a.agentId}  quic ${a.listen.map((l) => `${l.address}:${l.port}`).join(',')}  streams [${a.capabilities.join(', ')}]`,
    );
  }

  step('alice asks the server who is online');
  const { members } = JSON.parse(cli('alice', ['peers', '--server', server.url, '--json']));
  for (const m of members)
    console.log(
      `  ${m.agent_id}  [${m.capabilities.join(', ')}]  fingerprint ${m.fingerprint.slice(0, 16)}…`,
    );

  step('alice sends bob a 64 MiB file over QUIC (BLAKE3-verified end to end)');
  const file = join(root, 'demo-64MiB.bin');
  writeFileSync(file, randomBytes(64 * 1024 * 1024));
  const sent = JSON.parse(
    cli('alice', ['send-file', file, '--to', bob.agentId, '--server', server.url, '--json']),
  );
  for (const f of sent.files) {
    console.log(`  ${f.name} → bob's ${f.savedAs}`);
    console.log(
      `  ${(f.size / 1048576).toFixed(0)} MiB in ${f.seconds.toFixed(2)} s = ${f.mbPerSecond.toFixed(1)} MB/s, blake3 ${f.hash}`,
    );
  }

  step('alice sends bob a folder as a streamed ZIP (nested and empty directories, 200 files)');
  const folder = join(root, 'project');
  for (let i = 0; i < 200; i++) {
    const dir = join(folder, 'src', `module-${i % 10}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file-${i}.txt`), `file ${i}\n`.repeat(100 + i));
  }
  mkdirSync(join(folder, 'empty', 'dir'), { recursive: true });
  const zipped = JSON.parse(
    cli('alice', ['send-folder', folder, '--to', bob.agentId, '--server', server.url, '--json']),
  );
  console.log(
    `  ${zipped.root} → bob's ${zipped.savedAs}: ${zipped.files} files, ${zipped.dirs} directories`,
  );
  console.log(
    `  ${(zipped.bytes / 1e6).toFixed(1)} MB in ${zipped.seconds.toFixed(2)} s, blake3 of the stream ${zipped.hash}`,
  );

  step('alice shares a terminal running a scripted command; bob attaches as a (read-only) viewer');
  const script =
    'echo "hello from $(hostname), shared over QUIC"; for i in 1 2 3; do echo "tick $i"; sleep 0.2; done';
  const share = start('alice', [
    'share-terminal',
    '--json',
    '--command',
    script,
    '--wait-viewers',
    '1',
    '--server',
    server.url,
  ]);
  await share;
  const viewed = cli('bob', ['attach-terminal', alice.agentId, '--server', server.url]);
  for (const line of viewed.split(/\r?\n/).filter(Boolean)) console.log(`  bob sees │ ${line}`);

  step("bob's daemon status");
  process.stdout.write(cli('bob', ['status']));
}

try {
  await main();
  step('done');
} catch (error) {
  console.error(`demo failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
  );
  rmSync(root, { recursive: true, force: true });
}
