import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentity } from '../../src/identity/identity.js';
import { TempDirs } from '../helpers/cli.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

describe('the identity files on disk', () => {
  it('are created once, then loaded with the same fingerprint', async () => {
    const dir = await temp.make();
    const created = await loadOrCreateIdentity(dir);
    const loaded = await loadOrCreateIdentity(dir);
    expect([created.created, loaded.created]).toEqual([true, false]);
    expect(loaded.fingerprint).toBe(created.fingerprint);
  });

  it.each([
    ['identity.cert.pem', 'certificate'],
    ['identity.key.pem', 'private key'],
  ])('a damaged %s is named, with the way out, and left as it is', async (file, what) => {
    const dir = await temp.make();
    await loadOrCreateIdentity(dir);
    const damaged = (await readFile(join(dir, file), 'utf8')).slice(0, 40);
    await writeFile(join(dir, file), damaged);
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(
      new RegExp(
        `^${join(dir, file)} is not a valid ${what} \\(.+\\)\\. Restore it from a backup, or move both`,
      ),
    );
    expect(await readFile(join(dir, file), 'utf8')).toBe(damaged);
  });
});
