import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { directPair } from '../lib/mesh.js';
import type { Placement } from '../lib/placement.js';
import { freePort, PeakRss, start } from '../lib/proc.js';
import { BenchSshd } from '../lib/sshd.js';

export interface Measurement {
  seconds: number;
  senderRss: number;
  receiverRss: number;
  /** The received file. */
  output: string;
}

/** `mesh-agent run` receiver in direct mode and a `mesh-agent send-file` sender, timed from the sender's start to its exit. */
export async function meshAgent(
  placement: Placement,
  file: string,
  dir: string,
  maxUdpPayload: number,
  plugin: { chunkSize?: number } = {},
): Promise<Measurement> {
  // Both payloads: the bench runs on loopback, where loopbackUdpPayload would apply otherwise.
  const config = {
    quic: { maxUdpPayload, loopbackUdpPayload: maxUdpPayload },
    plugins: { 'file-transfer': plugin },
  };
  const run = await directPair(dir, String(maxUdpPayload), config, ['send-file', file], placement);
  const name = (JSON.parse(run.stdout) as { files: Array<{ savedAs: string }> }).files[0]?.savedAs as string;
  return { ...run, output: join(run.receiverHome, 'downloads', name) };
}

/** scp -c aes128-gcm@openssh.com to an sshd of our own on the receiving side, with a throwaway key. */
export async function scp(placement: Placement, file: string, dir: string): Promise<Measurement> {
  const sshDir = join(dir, 'ssh');
  await mkdir(sshDir, { recursive: true, mode: 0o700 });
  const sshd = new BenchSshd(sshDir, placement);
  await sshd.start();
  try {
    const output = join(dir, 'scp-received.bin');
    const receiverRss = new PeakRss(sshd.pid as number, true);
    const started = process.hrtime.bigint();
    const client = start(
      ...placement.on('sender', 'scp', [
        '-q',
        '-c',
        'aes128-gcm@openssh.com',
        ...sshd.scpArgs(),
        file,
        `${sshd.login}:${output}`,
      ]),
    );
    const senderRss = new PeakRss(client.child.pid as number, true);
    const code = await client.exited;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`scp failed (${code}): ${client.stderr}`);
    return { seconds, senderRss: senderRss.stop(), receiverRss: receiverRss.stop(), output };
  } finally {
    sshd.stop();
  }
}

/** Plain TCP with netcat-openbsd: the ceiling of an unencrypted, unverified copy. */
export async function nc(placement: Placement, file: string, dir: string): Promise<Measurement> {
  const port = await freePort();
  const output = join(dir, 'nc-received.bin');
  const to = placement.address('receiver');
  const receiver = start(...placement.on('receiver', 'sh', ['-c', `exec nc -l ${to} ${port} > '${output}'`]));
  await new Promise((r) => setTimeout(r, 300));
  const receiverRss = new PeakRss(receiver.child.pid as number);
  const started = process.hrtime.bigint();
  const sender = start(...placement.on('sender', 'sh', ['-c', `exec nc -N ${to} ${port} < '${file}'`]));
  const senderRss = new PeakRss(sender.child.pid as number);
  const [sent, received] = await Promise.all([sender.exited, receiver.exited]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sent !== 0 || received !== 0) throw new Error(`nc failed: ${sender.stderr}${receiver.stderr}`);
  return { seconds, senderRss: senderRss.stop(), receiverRss: receiverRss.stop(), output };
}
