import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BINDINGS_FILE, IdentityBindings } from '../src/bindings.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bindings-'));
  dirs.push(dir);
  return dir;
}

describe('IdentityBindings', () => {
  it('binds an id to the first key and refuses every other key', async () => {
    const bindings = await IdentityBindings.open();
    expect(await bindings.claim('alice', A)).toEqual({ ok: true, created: true });
    expect(await bindings.claim('alice', A)).toEqual({ ok: true, created: false });
    expect(await bindings.claim('alice', B)).toEqual({ ok: false, boundTo: A });
  });

  it('honours pins from the token file before first use', async () => {
    const bindings = await IdentityBindings.open({ pinned: new Map([['ops', B]]) });
    expect(await bindings.claim('ops', A)).toEqual({ ok: false, boundTo: B });
    expect(await bindings.claim('ops', B)).toMatchObject({ ok: true });
  });

  it('persists to the data directory (mode 0600) and reloads', async () => {
    const dir = await tempDir();
    const first = await IdentityBindings.open({ dataDir: dir });
    await first.claim('alice', A);
    await first.claim('bob', B);
    await first.flush();
    const file = join(dir, BINDINGS_FILE);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({
      alice: { fingerprint: A },
      bob: { fingerprint: B },
    });
    const second = await IdentityBindings.open({ dataDir: dir });
    expect(await second.claim('alice', B)).toEqual({ ok: false, boundTo: A });
  });

  it('stops taking new ids at its cap', async () => {
    const bindings = await IdentityBindings.open({ maxBindings: 2 });
    await bindings.claim('one', A);
    await bindings.claim('two', A);
    expect(await bindings.claim('three', A)).toMatchObject({ ok: false });
    expect(await bindings.claim('one', A)).toMatchObject({ ok: true });
  });

  it('refuses to start on a corrupt file instead of forgetting every binding', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, BINDINGS_FILE), '{ not json');
    await expect(IdentityBindings.open({ dataDir: dir })).rejects.toThrow(/not valid JSON/);
    await writeFile(join(dir, BINDINGS_FILE), JSON.stringify({ alice: { fingerprint: 'short' } }));
    await expect(IdentityBindings.open({ dataDir: dir })).rejects.toThrow(/"alice" has no valid fingerprint/);
  });

  it('keeps the binding in memory and logs when the directory cannot be written', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'state');
    const errors: string[] = [];
    const log = {
      debug() {},
      info() {},
      warn() {},
      error: (_: object, msg?: string) => errors.push(msg ?? ''),
    };
    const bindings = await IdentityBindings.open({ dataDir, log });
    // A file where the directory should be: no write can succeed, even as root.
    await writeFile(dataDir, 'in the way');
    await bindings.claim('alice', A);
    await bindings.flush();
    expect(errors).toContain('could not persist identity bindings');
    expect(await bindings.claim('alice', B)).toMatchObject({ ok: false });
  });
});
