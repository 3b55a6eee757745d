/** Connection set-up of one path: a one-shot `send-file` of a tiny file, timed from the sender's logs. */
import type { MeshLab, Send } from './mesh-lab.js';

export interface PathCase {
  name: string;
  from: string;
  to: string;
  /** The path the NATs between them leave; a run that takes another fails the bench. */
  path: 'direct' | 'relay';
}

/**
 * The phases of `connect`, one after the other in the sender's log, each ending at its message; the
 * first starts at "signaling connected".
 */
export const PHASES = [
  // STUN from the QUIC socket: the NAT kind and mapped address (a UDP-blocked one waits out the timeout).
  { name: 'stun', until: 'nat discovered' },
  // Session grant, then probes until a pair answers (the punch), or the relay bind.
  { name: 'path', until: 'peer path ready' },
  // QUIC handshake and the peer's authentication over that path.
  { name: 'handshake', until: 'peer connected' },
] as const;

export type Phase = (typeof PHASES)[number]['name'];

export interface SetupSample {
  /** Signaling connected → peer connected: the PHASES together. */
  connectMs: number;
  phasesMs: Record<Phase, number>;
  /** Spawn → exit of the sender: process start, the above and the verified transfer. */
  wallMs: number;
  rttMs: number;
}

export async function setupOnce(mesh: MeshLab, c: PathCase, file: string): Promise<SetupSample> {
  const send = await mesh.send(c.from, c.to, file);
  expectPath(c, send);
  let last = logTime(send, 'signaling connected');
  const start = last;
  const phasesMs = {} as Record<Phase, number>;
  for (const phase of PHASES) {
    const at = logTime(send, phase.until);
    phasesMs[phase.name] = at - last;
    last = at;
  }
  return {
    connectMs: last - start,
    phasesMs,
    wallMs: send.wallSeconds * 1000,
    rttMs: send.report.rttMs ?? 0,
  };
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
