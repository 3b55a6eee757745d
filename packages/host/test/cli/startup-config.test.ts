import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCommandConfig, readStartupConfig } from '../../src/cli/startup-config.js';
import { TempDirs } from '../helpers/cli.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

async function configFile(level: string): Promise<string> {
  const file = join(await temp.make(), 'mesh-agent.config.json');
  await writeFile(file, JSON.stringify({ log: { level } }));
  return file;
}

describe('the config read at start-up, handed to the command', () => {
  it('is given to the command once; a later read sees the file as it is then', async () => {
    const file = await configFile('debug');
    const atStartup = await readStartupConfig(file);
    await writeFile(file, JSON.stringify({ log: { level: 'error' } }));
    expect(await readCommandConfig(file)).toBe(atStartup);
    expect((await readCommandConfig(file)).tree).toMatchObject({ log: { level: 'error' } });
  });

  it('is read again when the command names another file', async () => {
    const [first, second] = [await configFile('debug'), await configFile('warn')];
    await readStartupConfig(first);
    expect((await readCommandConfig(second)).tree).toMatchObject({ log: { level: 'warn' } });
    // The kept read was dropped, not left for a later command to pick up.
    await writeFile(first, JSON.stringify({ log: { level: 'error' } }));
    expect((await readCommandConfig(first)).tree).toMatchObject({ log: { level: 'error' } });
  });
});
