/** The NAT lab's reflector and probe scripts (fixtures/), driven from tests. */
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Lab } from './lab.js';

export const REFLECTOR = resolve(import.meta.dirname, 'fixtures/reflector.mjs');
export const PROBE = resolve(import.meta.dirname, 'fixtures/probe.mjs');

export type Line = { type: string; [key: string]: unknown };

/** The JSON lines a child prints on stdout, kept as they come; `waitFor` finds one (seen already or later). */
export class JsonLines {
  readonly all: Line[] = [];
  stderr = '';
  private exited = false;
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try {
        this.all.push(JSON.parse(text) as Line);
      } catch {
        this.all.push({ type: 'text', text });
      }
      for (const w of this.waiters) w();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    child.once('exit', () => {
      this.exited = true;
      for (const w of this.waiters) w();
    });
  }

  find(pred: (l: Line) => boolean): Line | undefined {
    return this.all.find(pred);
  }

  waitFor(pred: (l: Line) => boolean, timeoutMs = 5000): Promise<Line> {
    return new Promise((resolvePromise, reject) => {
      const check = () => {
        const hit = this.find(pred);
        if (hit) done(() => resolvePromise(hit));
        else if (this.exited)
          done(() =>
            reject(new Error(`process exited first; lines: ${this.dump()}; stderr: ${this.stderr}`)),
          );
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out; lines: ${this.dump()}; stderr: ${this.stderr}`))),
        timeoutMs,
      );
      const done = (then: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        then();
      };
      this.waiters.add(check);
      check();
    });
  }

  private dump(): string {
    return this.all.map((l) => JSON.stringify(l)).join(' ');
  }
}

export interface Reflector {
  lines: JsonLines;
  /** Sends `data` from one of the reflector's UDP ports to ip:port; resolves once sent. */
  send(from: number, ip: string, port: number, data: string): Promise<void>;
}

/** Starts the reflector in a node's namespace (UDP and TCP ports on 0.0.0.0) and waits until it listens. */
export async function startReflector(
  lab: Lab,
  node: string,
  ports: { udp?: number[]; tcp?: number[] },
): Promise<Reflector> {
  const args = [REFLECTOR, '--udp', (ports.udp ?? []).join(','), '--tcp', (ports.tcp ?? []).join(',')];
  const child = lab.spawn(node, process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = new JsonLines(child);
  await lines.waitFor((l) => l.type === 'ready');
  return {
    lines,
    async send(from, ip, port, data) {
      child.stdin!.write(`${JSON.stringify({ from, ip, port, data })}\n`);
      const sent = await lines.waitFor((l) => l.type === 'sent' && l.data === data);
      if (sent.error) throw new Error(`reflector send failed: ${sent.error}`);
    },
  };
}

/**
 * Starts a UDP probe in a host's namespace: one socket sends to every port of `ip` until each answers.
 * `linger` keeps it running (printing later datagrams as `recv` lines) until the lab is torn down.
 */
export function startUdpProbe(
  lab: Lab,
  node: string,
  ip: string,
  ports: number[],
  opts: { timeoutMs?: number; linger?: boolean; bindPort?: number } = {},
): JsonLines {
  const args = [PROBE, 'udp', ip, ports.join(','), '--timeout', String(opts.timeoutMs ?? 3000)];
  if (opts.linger) args.push('--linger');
  if (opts.bindPort !== undefined) args.push('--bind-port', String(opts.bindPort));
  return new JsonLines(lab.spawn(node, process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Connects over TCP from a host's namespace; resolves with what the reflector saw, or the error line. */
export async function tcpProbe(lab: Lab, node: string, ip: string, port: number, timeoutMs = 3000) {
  const r = await lab.exec(node, process.execPath, [
    PROBE,
    'tcp',
    ip,
    String(port),
    '--timeout',
    String(timeoutMs),
  ]);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line || `{"type":"error","error":${JSON.stringify(r.stderr)}}`) as Line;
}
