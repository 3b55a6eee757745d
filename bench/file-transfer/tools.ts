/** One benchmark run per tool: mesh-agent (direct mode), scp against a throwaway sshd, and nc. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort, PeakRss, start, waitFor } from '../lib/proc.js';

export interface Measurement {
  seconds: number;
  senderRss: number;
  receiverRss: number;
  /** The received file. */
  output: string;
}

const BIN = resolve(import.meta.dirname, '../../bin/run.js');

function agentEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MESH_AGENT_HOME: home, HOME: home };
  for (const key of Object.keys(env))
    if (key.startsWith('MESH_AGENT_') && key !== 'MESH_AGENT_HOME') delete env[key];
  return { ...env, MESH_AGENT_DATA_DIR: join(home, 'oclif-data') };
}

async function agentHome(dir: string, name: string, maxUdpPayload: number, plugin: object): Promise<string> {
  const home = join(dir, name);
  await mkdir(home, { recursive: true });
  const config = { log: { level: 'warn' }, quic: { maxUdpPayload }, plugins: { 'file-transfer': plugin } };
  await writeFile(join(home, 'mesh-agent.config.json'), JSON.stringify(config));
  execFileSync(process.execPath, [BIN, 'identity', '--json'], { env: agentEnv(home), cwd: home });
  return home;
}

/** `mesh-agent run` receiver in direct mode and a `mesh-agent send-file` sender, timed from the sender's start to its exit. */
export async function meshAgent(
  file: string,
  dir: string,
  maxUdpPayload: number,
  plugin: object = {},
): Promise<Measurement> {
  const receiverHome = await agentHome(dir, `receiver-${maxUdpPayload}`, maxUdpPayload, plugin);
  const senderHome = await agentHome(dir, `sender-${maxUdpPayload}`, maxUdpPayload, plugin);
  const token = `bench-${Date.now()}-token-0123456789`;
  const receiver = start(
    process.execPath,
    [BIN, 'run', '--listen', '127.0.0.1:0', '--session-id', 'bench', '--accept-token', token, '--json'],
    { env: agentEnv(receiverHome), cwd: receiverHome },
  );
  try {
    await waitFor(receiver, (out) => out.includes('"listen"'));
    const ready = JSON.parse(receiver.stdout.split('\n')[0] as string) as {
      fingerprint: string;
      listen: Array<{ port: number }>;
    };
    const receiverRss = new PeakRss(receiver.child.pid as number);
    const started = process.hrtime.bigint();
    const sender = start(
      process.execPath,
      [
        BIN,
        'send-file',
        file,
        '--peer-addr',
        `127.0.0.1:${ready.listen[0]?.port}`,
        '--session-id',
        'bench',
        '--token',
        token,
        '--peer-fingerprint',
        ready.fingerprint,
        '--json',
      ],
      { env: agentEnv(senderHome), cwd: senderHome },
    );
    const senderRss = new PeakRss(sender.child.pid as number);
    const code = await sender.exited;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const sRss = senderRss.stop();
    if (code !== 0) throw new Error(`send-file failed (${code}): ${sender.stdout}${sender.stderr}`);
    const name = (JSON.parse(sender.stdout) as { files: Array<{ savedAs: string }> }).files[0]
      ?.savedAs as string;
    return {
      seconds,
      senderRss: sRss,
      receiverRss: receiverRss.stop(),
      output: join(receiverHome, 'downloads', name),
    };
  } finally {
    receiver.child.kill('SIGTERM');
    await receiver.exited;
  }
}

/** scp -c aes128-gcm@openssh.com to an sshd of our own on a loopback port, with a throwaway key. */
export async function scp(file: string, dir: string): Promise<Measurement> {
  const ssh = join(dir, 'ssh');
  await mkdir(ssh, { recursive: true, mode: 0o700 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(ssh, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(ssh, 'client_key')]);
  execFileSync('cp', [join(ssh, 'client_key.pub'), join(ssh, 'authorized_keys')]);
  await mkdir('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = join(ssh, 'sshd_config');
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(ssh, 'host_key')}`,
      `AuthorizedKeysFile ${join(ssh, 'authorized_keys')}`,
      `PidFile ${join(ssh, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const sshd = start('/usr/sbin/sshd', ['-D', '-e', '-f', config]);
  try {
    await new Promise((r) => setTimeout(r, 500));
    if (sshd.child.exitCode !== null) throw new Error(`sshd failed: ${sshd.stderr}`);
    const output = join(dir, 'scp-received.bin');
    const receiverRss = new PeakRss(sshd.child.pid as number, true);
    const started = process.hrtime.bigint();
    const client = start('scp', [
      '-q',
      '-c',
      'aes128-gcm@openssh.com',
      '-i',
      join(ssh, 'client_key'),
      '-P',
      String(port),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      file,
      `root@127.0.0.1:${output}`,
    ]);
    const senderRss = new PeakRss(client.child.pid as number, true);
    const code = await client.exited;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`scp failed (${code}): ${client.stderr}`);
    return { seconds, senderRss: senderRss.stop(), receiverRss: receiverRss.stop(), output };
  } finally {
    sshd.child.kill('SIGTERM');
    await sshd.exited;
  }
}

/** Plain TCP with netcat-openbsd: the ceiling of an unencrypted, unverified copy. */
export async function nc(file: string, dir: string): Promise<Measurement> {
  const port = await freePort();
  const output = join(dir, 'nc-received.bin');
  const receiver = start('sh', ['-c', `exec nc -l 127.0.0.1 ${port} > '${output}'`]);
  await new Promise((r) => setTimeout(r, 300));
  const receiverRss = new PeakRss(receiver.child.pid as number);
  const started = process.hrtime.bigint();
  const sender = start('sh', ['-c', `exec nc -N 127.0.0.1 ${port} < '${file}'`]);
  const senderRss = new PeakRss(sender.child.pid as number);
  const [sent, received] = await Promise.all([sender.exited, receiver.exited]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sent !== 0 || received !== 0) throw new Error(`nc failed: ${sender.stderr}${receiver.stderr}`);
  return { seconds, senderRss: senderRss.stop(), receiverRss: receiverRss.stop(), output };
}
