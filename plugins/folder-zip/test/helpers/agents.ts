import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentEnv, runCli, type TempDirs } from '../../../../packages/host/test/helpers/cli.js';
import type { Agent } from '../../../../packages/host/test/helpers/mesh.js';

export interface FolderAgentSetup {
  folderZip?: Record<string, unknown>;
  fileTransfer?: Record<string, unknown> | false;
}

/** An agent home whose config enables folder-zip (and file-transfer, unless `false`). */
export async function makeFolderAgent(dirs: TempDirs, setup: FolderAgentSetup = {}): Promise<Agent> {
  const home = await dirs.make('mesh-fz-');
  const config = {
    log: { level: 'info' },
    quic: { idleTimeoutMs: 4_000, keepAliveMs: 1_000 },
    plugins: {
      'file-transfer': setup.fileTransfer === false ? { enabled: false } : (setup.fileTransfer ?? {}),
      'folder-zip': setup.folderZip ?? {},
    },
  };
  await writeFile(join(home, 'mesh-agent.config.json'), JSON.stringify(config));
  const env = agentEnv(home);
  const identity = await runCli(['identity', '--json'], env);
  if (identity.code !== 0) throw new Error(`identity failed: ${identity.stderr}`);
  const { agentId, fingerprint } = JSON.parse(identity.stdout) as { agentId: string; fingerprint: string };
  return { home, env, id: agentId, fingerprint };
}

/** Every path under `dir` (relative, directories with a trailing slash), sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1) + (e.isDirectory() ? '/' : ''))
    .sort();
}
