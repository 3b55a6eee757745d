import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkFileName,
  linkWithoutOverwrite,
  MAX_NAME_BYTES,
  numberedName,
  UnsafeNameError,
} from '../src/names.js';

describe('checkFileName', () => {
  it.each(['report.pdf', '.bashrc', 'a b (1).tar.gz', 'été.txt', 'x'.repeat(255), '…'])(
    'accepts %j',
    (name) => {
      expect(checkFileName(name)).toBe(name);
    },
  );

  it.each([
    ['../x', /path separator/],
    ['/etc/x', /path separator/],
    ['C:\\x', /path separator/],
    ['a/../../x', /path separator/],
    ['a\\b', /path separator/],
    ['a\u0000b', /NUL/],
    ['', /empty/],
    ['.', /not a file/],
    ['..', /not a file/],
    ['C:x', /drive letter/],
    ['bell\u0007', /control/],
    ['x'.repeat(256), /256 bytes/],
    ['é'.repeat(128), /256 bytes/],
  ])('rejects %j', (name, reason) => {
    expect(() => checkFileName(name)).toThrow(UnsafeNameError);
    expect(() => checkFileName(name)).toThrow(reason);
  });
});

describe('numberedName', () => {
  it('numbers before the last extension, keeps dot files whole', () => {
    expect(numberedName('photo.jpg', 1)).toBe('photo (1).jpg');
    expect(numberedName('archive.tar.gz', 2)).toBe('archive.tar (2).gz');
    expect(numberedName('.bashrc', 1)).toBe('.bashrc (1)');
    expect(numberedName('README', 3)).toBe('README (3)');
  });

  it('stays within 255 bytes, cutting whole characters of the stem', () => {
    const long = `${'é'.repeat(125)}.txt`;
    const numbered = numberedName(long, 12);
    expect(Buffer.byteLength(numbered)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(numbered.endsWith(' (12).txt')).toBe(true);
    expect(numbered).not.toContain('\uFFFD');
  });
});

describe('linkWithoutOverwrite', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never replaces an existing file: name, name (1), name (2)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ft-names-'));
    const saved: string[] = [];
    for (const content of ['a', 'b', 'c']) {
      const source = join(dir, `.src-${content}`);
      await writeFile(source, content);
      saved.push(await linkWithoutOverwrite(source, dir, 'doc.txt'));
    }
    expect(saved).toEqual(['doc.txt', 'doc (1).txt', 'doc (2).txt']);
    expect(await readFile(join(dir, 'doc.txt'), 'utf8')).toBe('a');
    expect(await readFile(join(dir, 'doc (2).txt'), 'utf8')).toBe('c');
    expect((await readdir(dir)).length).toBe(6);
  });
});
