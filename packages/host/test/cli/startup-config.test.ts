import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '@oclif/core';
import { afterAll, describe, expect, it } from 'vitest';
import { keepStartupConfig, readCommandConfig, readStartupConfig } from '../../src/cli/startup-config.js';
import { TempDirs } from '../helpers/cli.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

/** Stands in for the oclif Config of one run: the handover only uses it as a key. */
const aRun = () => ({ plugins: new Map() }) as unknown as Config;

async function configFile(level: string): Promise<string> {
  const file = join(await temp.make(), 'mesh-agent.config.json');
  await writeFile(file, JSON.stringify({ log: { level } }));
  return file;
}

describe('the config read at start-up, handed to the command', () => {
  it('is given to the command of that run once; a later read sees the file as it is then', async () => {
    const file = await configFile('debug');
    const run = aRun();
    const atStartup = await readStartupConfig(run, file);
    await writeFile(file, JSON.stringify({ log: { level: 'error' } }));
    expect(await readCommandConfig(run, file)).toBe(atStartup);
    expect((await readCommandConfig(run, file)).tree).toMatchObject({ log: { level: 'error' } });
  });

  it('is read again for another file or another run', async () => {
    const [first, second] = [await configFile('debug'), await configFile('warn')];
    const run = aRun();
    await readStartupConfig(run, first);
    expect((await readCommandConfig(run, second)).tree).toMatchObject({ log: { level: 'warn' } });
    await readStartupConfig(run, first);
    expect(await readCommandConfig(aRun(), first)).not.toBe(await readCommandConfig(run, first));
  });

  it('follows the run into the config the CLI rebuilt without disabled plugins', async () => {
    const file = await configFile('debug');
    const [run, filtered] = [aRun(), aRun()];
    const atStartup = await readStartupConfig(run, file);
    keepStartupConfig(run, filtered);
    expect(await readCommandConfig(filtered, file)).toBe(atStartup);
  });
});
