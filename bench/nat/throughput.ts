/** One large `send-file` over a path, and what it cost the relay process when relayed. */
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeTimedRun } from '../lib/before-run.js';
import { blake3 } from '../lib/files.js';
import { cpuSeconds, PeakRss, rssMb } from '../lib/proc.js';
import type { MeshLab } from './mesh-lab.js';
import { expectPath, type PathCase } from './setup.js';

export interface Source {
  path: string;
  bytes: number;
  hash: string;
}

export interface RelayCost {
  cpuSeconds: number;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
}

export interface ThroughputSample {
  /** The sender's own figure for the file: size over its transfer time, connection excluded. */
  mbPerSecond: number;
  relay?: RelayCost;
}

export async function throughputOnce(
  mesh: MeshLab,
  c: PathCase,
  source: Source,
  scratch: string,
): Promise<ThroughputSample> {
  await beforeTimedRun(scratch, source.bytes);
  const watch = c.path === 'relay' ? watchRelay(mesh.relayPid) : undefined;
  const send = await mesh.send(c.from, c.to, source.path);
  const relay = await watch?.stop();
  expectPath(c, send);
  const file = send.report.files[0];
  if (!file) throw new Error(`${c.name}: send-file reported no file`);
  const received = join(mesh.downloads(c.to), file.savedAs);
  const hash = await blake3(received);
  await rm(received);
  if (hash !== source.hash)
    throw new Error(`${c.name}: received file hashes to ${hash}, expected ${source.hash}`);
  return { mbPerSecond: file.mbPerSecond, ...(relay ? { relay } : {}) };
}

/** CPU and RSS of the relay process from now until `stop` (1 s after the transfer, to see what it keeps). */
function watchRelay(pid: number): { stop(): Promise<RelayCost> } {
  // Writing 5 to clear_refs resets VmHWM, so the peak is this transfer's and not the process's lifetime's.
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const rssBefore = rssMb(pid);
  const cpuBefore = cpuSeconds(pid);
  const peak = new PeakRss(pid);
  return {
    async stop() {
      const cpu = cpuSeconds(pid) - cpuBefore;
      await new Promise((r) => setTimeout(r, 1000));
      return { cpuSeconds: cpu, rssBefore, rssPeak: peak.stop(), rssAfter: rssMb(pid) };
    },
  };
}
