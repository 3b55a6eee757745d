import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome } from '../../src/config/load.js';
import type { HostConfig } from '../../src/config/schema.js';
import { userPath } from '../../src/config/user-path.js';

describe('paths written in config', () => {
  it('read ~ and ~/… as the home directory, wherever the command runs', () => {
    expect(userPath('~')).toBe(homedir());
    expect(userPath('~/mesh')).toBe(join(homedir(), 'mesh'));
    expect(agentHome({ agent: { home: '~/mesh' } } as HostConfig)).toBe(join(homedir(), 'mesh'));
  });

  it('keep absolute paths, resolve relative ones, and leave ~user and a ~ inside a name alone', () => {
    expect(userPath('/srv/mesh')).toBe('/srv/mesh');
    expect(userPath('mesh')).toBe(resolve('mesh'));
    expect(userPath('~bob/x')).toBe(resolve('~bob/x'));
    expect(userPath('a/~/b')).toBe(resolve('a/~/b'));
  });
});
