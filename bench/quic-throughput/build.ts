import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The sources a benchmark peer runs: the host's (the QUIC driver and what it imports, e.g. the
 * packet layer's nat/ and signaling/ modules) and the peer scripts.
 */
async function sources(): Promise<string[]> {
  const host = (await readdir(join(ROOT, 'packages/host/src'), { recursive: true }))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `packages/host/src/${f}`);
  return [
    ...host,
    'bench/quic-throughput/peer.ts',
    'bench/quic-throughput/plain.ts',
    'bench/quic-throughput/latency.ts',
    'bench/quic-throughput/matrixai.ts',
  ];
}

/**
 * Transpiles the peer and the driver to plain JavaScript in a temporary tree, as the agent runs
 * from its build: without it every process and worker thread would also carry tsx's loader
 * (about 70 MB of RSS per process here), which is not what the data plane costs.
 */
export async function buildPeer(): Promise<{ peer: string; cleanup: () => Promise<void> }> {
  const out = join(tmpdir(), `mesh-quic-bench-${process.pid}`);
  for (const file of await sources()) {
    const source = await readFile(join(ROOT, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
      fileName: file,
    });
    const target = join(out, file.replace(/\.ts$/, '.js'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  await writeFile(join(out, 'package.json'), '{"type":"module"}\n');
  await symlink(join(ROOT, 'packages/host/node_modules'), join(out, 'packages/host/node_modules'), 'dir');
  return {
    peer: join(out, 'bench/quic-throughput/peer.js'),
    cleanup: () => rm(out, { recursive: true, force: true }),
  };
}
