import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TempDirs } from '../../../../packages/host/test/helpers/cli.js';
import { type Agent, makeAgent } from '../../../../packages/host/test/helpers/mesh.js';

export interface FolderAgentSetup {
  folderZip?: Record<string, unknown>;
  fileTransfer?: Record<string, unknown> | false;
  /** Run its commands unprivileged (see AgentOptions.unprivileged). */
  unprivileged?: boolean;
}

/** An agent home whose config enables folder-zip (and file-transfer, unless `false`). */
export function makeFolderAgent(dirs: TempDirs, setup: FolderAgentSetup = {}): Promise<Agent> {
  const config = {
    log: { level: 'info' },
    quic: { idleTimeoutMs: 4_000, keepAliveMs: 1_000 },
    plugins: {
      'file-transfer': setup.fileTransfer === false ? { enabled: false } : (setup.fileTransfer ?? {}),
      'folder-zip': setup.folderZip ?? {},
    },
  };
  return makeAgent(dirs, {
    config,
    prefix: 'mesh-fz-',
    unprivileged: setup.unprivileged === true,
  });
}

/** Every path under `dir` (relative, directories with a trailing slash), sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1) + (e.isDirectory() ? '/' : ''))
    .sort();
}
