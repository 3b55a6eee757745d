import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partBytes } from '../../../../plugins/file-transfer/test/helpers/fixtures.js';
import { type CliProcess, type CliResult, eventually, TempDirs } from '../helpers/cli.js';
import { createLab, type Lab, natLabAvailable } from './lab.js';
import { LabMesh } from './lab-mesh.js';

/**
 * A relay that dies in the middle of a transfer: two agents behind endpoint-dependent NATs (the
 * relay is their only path), a server that hands out a separate `mesh-agent relay`, and that
 * relay killed with SIGKILL while the file is on its way. The sender must fail at once with a
 * clear reason, the receiver must keep what arrived, and the next run must resume from there.
 */
const lab = natLabAvailable();
if (!lab.ok) console.warn(`NAT lab tests skipped: ${lab.reason}`);
const run = lab.ok || process.env.NAT_LAB_REQUIRED === '1';

const RELAY_PORT = 7400;
const MIB = 1024 * 1024;

describe.skipIf(!run)('a relay lost mid-transfer (real kernel NAT, real processes)', () => {
  const dirs = new TempDirs();
  let net: Lab;
  let mesh: LabMesh;
  let secretFile: string;
  let relay: CliProcess;

  async function startRelay(): Promise<void> {
    relay = await mesh.startRelay(RELAY_PORT, secretFile);
  }

  beforeAll(async () => {
    net = await createLab({
      sites: {
        mobile: { nat: 'edm', hosts: ['carol'] },
        carrier: { nat: 'edm', hosts: ['dave'] },
      },
    });
    mesh = new LabMesh(net, dirs);
    secretFile = join(await dirs.make('nat-relay-secret-'), 'secret');
    await writeFile(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    await startRelay();
    await mesh.startServer([
      '--relay-url',
      `ws://${net.serverAddress}:${RELAY_PORT}/relay`,
      '--relay-secret-file',
      secretFile,
    ]);
    await mesh.daemon('dave');
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await net?.teardown();
    await dirs.cleanup();
  });

  it('fails clearly when the relay dies, keeps what arrived, and resumes through the restarted relay', async () => {
    const size = 128 * MIB;
    const file = await mesh.file('through-relay.bin', size / MIB);
    const downloads = join(await mesh.home('dave'), 'downloads');
    let ended: CliResult | undefined;
    const sending = mesh.send('carol', 'dave', file).then((result) => {
      ended = result;
      return result;
    });
    await eventually(
      async () => {
        if (ended)
          throw new Error(`send-file ended before the relay was killed: ${ended.stderr.slice(-2000)}`);
        return (await partBytes(downloads)) >= size * 0.3;
      },
      60_000,
      10,
    );
    await relay.stop('SIGKILL');

    const failed = await sending;
    expect(failed.code).not.toBe(0);
    // With --json the failure is the error record on stdout.
    expect(failed.stdout).toMatch(/relay connection was lost/);
    const kept = await partBytes(downloads);
    expect(kept).toBeGreaterThan(0);

    await startRelay();
    const report = await mesh.verified(await mesh.send('carol', 'dave', file), 'dave', file);
    expect(report.path).toBe('relay');
    expect(report.files[0]!.resumedFrom).toBeGreaterThan(0);
    expect(report.files[0]!.resumedFrom).toBeLessThanOrEqual(kept);
  }, 180_000);
});
