import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TempDirs } from '../packages/host/test/helpers/cli.js';
import {
  changelogEntry,
  controlFile,
  debianVersion,
  installedSizeKiB,
  nodejsDependency,
  wrap,
} from '../scripts/lib/deb-control.mjs';

describe('debianVersion', () => {
  it('keeps a release version', () => {
    expect(debianVersion('0.1.0')).toBe('0.1.0');
  });

  it('turns a pre-release into ~, which Debian sorts before the release', () => {
    expect(debianVersion('1.2.0-beta.1')).toBe('1.2.0~beta.1');
    expect(debianVersion('1.2.0-rc-2')).toBe('1.2.0~rc.2');
  });

  it('keeps build metadata after +', () => {
    expect(debianVersion('1.2.0-rc.1+git.abc')).toBe('1.2.0~rc.1+git.abc');
  });

  it('refuses a version that is not semver', () => {
    expect(() => debianVersion('1.2')).toThrow('package.json version "1.2" is not a semver version');
    expect(() => debianVersion('v1.2.3')).toThrow(/not a semver version/);
  });
});

describe('nodejsDependency', () => {
  it('depends on nodejs at least the engines version', () => {
    expect(nodejsDependency('>=20.15')).toBe('nodejs (>= 20.15)');
    expect(nodejsDependency('>= 20')).toBe('nodejs (>= 20)');
  });

  it('refuses a range a Depends field cannot say', () => {
    expect(() => nodejsDependency('^20 || ^22')).toThrow('engines.node "^20 || ^22" is not ">=<version>"');
    expect(() => nodejsDependency(undefined)).toThrow(/engines.node "undefined"/);
  });
});

describe('wrap', () => {
  it('breaks between words at the width', () => {
    expect(wrap('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrap('  spaced   out  ', 80)).toEqual(['spaced out']);
  });

  it('puts a word longer than the width on a line of its own', () => {
    expect(wrap('a looooooong b', 4)).toEqual(['a', 'looooooong', 'b']);
  });
});

describe('controlFile', () => {
  const fields = {
    package: 'mesh-agent',
    version: '0.1.0',
    architecture: 'amd64',
    maintainer: 'Someone <someone@example.org>',
    depends: 'nodejs (>= 20.15)',
    synopsis: 'peer-to-peer desktop agent',
    description: ['First paragraph.', 'Second paragraph.'],
    installedSizeKiB: 1234,
  };

  it('writes every field, the description indented with a dot between paragraphs', () => {
    expect(controlFile(fields)).toBe(
      [
        'Package: mesh-agent',
        'Version: 0.1.0',
        'Architecture: amd64',
        'Maintainer: Someone <someone@example.org>',
        'Installed-Size: 1234',
        'Depends: nodejs (>= 20.15)',
        'Section: net',
        'Priority: optional',
        'Description: peer-to-peer desktop agent',
        ' First paragraph.',
        ' .',
        ' Second paragraph.',
        '',
      ].join('\n'),
    );
  });

  it('refuses missing fields and values that would break the file', () => {
    expect(() => controlFile({ ...fields, maintainer: '', architecture: '' })).toThrow(
      'control file: no architecture, maintainer',
    );
    expect(() => controlFile({ ...fields, synopsis: 'two\nlines' })).toThrow(
      'control file: synopsis spans lines',
    );
  });
});

describe('installedSizeKiB', () => {
  const dirs = new TempDirs();
  afterAll(() => dirs.cleanup());

  it('counts KiB per file rounded up, and one per directory and link', async () => {
    const root = await dirs.make();
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, 'sub', 'a'), Buffer.alloc(1));
    await writeFile(join(root, 'b'), Buffer.alloc(2049));
    await symlink('b', join(root, 'link'));
    expect(installedSizeKiB(root)).toBe(1 + 1 + 3 + 1);
  });
});

describe('changelogEntry', () => {
  it('is one entry for the version, signed with a numeric time zone', () => {
    const entry = changelogEntry({
      version: '0.1.0~rc.1',
      maintainer: 'Someone <someone@example.org>',
      date: new Date(Date.UTC(2026, 11, 5, 21, 30, 7)),
    });
    expect(entry).toBe(
      [
        'mesh-agent (0.1.0~rc.1) unstable; urgency=medium',
        '',
        '  * Built from the mesh-agent repository with scripts/build-deb.mjs.',
        '',
        ' -- Someone <someone@example.org>  Sat, 05 Dec 2026 21:30:07 +0000',
        '',
      ].join('\n'),
    );
  });
});
