/** Connection set-up of one path: a one-shot `send-file` of a tiny file, timed from the sender's logs. */
import type { MeshLab, Send } from './mesh-lab.js';

export interface PathCase {
  name: string;
  from: string;
  to: string;
  /** The path the NATs between them leave; a run that takes another fails the bench. */
  path: 'direct' | 'relay';
}

export interface SetupSample {
  /** Signaling connected → peer connected: session grant, NAT discovery, punch or relay bind, QUIC and peer handshake. */
  connectMs: number;
  /** Spawn → exit of the sender: process start, the above and the verified transfer. */
  wallMs: number;
  rttMs: number;
}

export async function setupOnce(mesh: MeshLab, c: PathCase, file: string): Promise<SetupSample> {
  const send = await mesh.send(c.from, c.to, file);
  expectPath(c, send);
  const connected = logTime(send, 'signaling connected');
  const peer = logTime(send, 'peer connected');
  return { connectMs: peer - connected, wallMs: send.wallSeconds * 1000, rttMs: send.report.rttMs ?? 0 };
}

export function expectPath(c: PathCase, send: Send): void {
  if (send.report.path !== c.path)
    throw new Error(`${c.name}: ${c.from} → ${c.to} went ${send.report.path ?? '?'}, expected ${c.path}`);
}

function logTime(send: Send, msg: string): number {
  const line = send.log.find((l) => l.msg === msg);
  if (!line) throw new Error(`the sender logged no "${msg}" (debug level): ${JSON.stringify(send.log)}`);
  return line.time;
}
