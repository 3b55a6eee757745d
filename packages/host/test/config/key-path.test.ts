import { describe, expect, it } from 'vitest';
import { ConfigPathError, parseKeyPath, parseValue, schemaAt } from '../../src/config/key-path.js';

const plugins = [
  {
    name: 'demo',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: { limit: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
    },
  },
];

describe('config key paths', () => {
  it('splits dotted paths and refuses empty keys', () => {
    expect(parseKeyPath('plugins.notifications-gotify.url')).toEqual([
      'plugins',
      'notifications-gotify',
      'url',
    ]);
    expect(() => parseKeyPath('signaling..url')).toThrow(ConfigPathError);
  });

  it('finds the host schema and an installed plugin’s schema, enabled included', () => {
    expect(schemaAt(['quic', 'port'], plugins)).toMatchObject({ type: 'integer' });
    expect(schemaAt(['plugins', 'demo', 'limit'], plugins)).toEqual({ type: 'integer' });
    expect(schemaAt(['plugins', 'demo', 'enabled'], plugins)).toEqual({ type: 'boolean' });
  });

  it('names the closest key for a typo, at the host level and under a plugin', () => {
    expect(() => schemaAt(['signalling', 'url'], plugins)).toThrow(
      /no "signalling" at the top level\. Did you mean signaling\?/,
    );
    expect(() => schemaAt(['plugins', 'dmeo', 'limit'], plugins)).toThrow(/Did you mean plugins\.demo\?/);
    expect(() => schemaAt(['plugins', 'demo', 'limt'], plugins)).toThrow(
      /Did you mean plugins\.demo\.limit\?/,
    );
    expect(() => schemaAt(['quic', 'port', 'x'], plugins)).toThrow(/quic\.port is a value, not a section/);
  });

  it('reads values as the schema’s type', () => {
    const url = schemaAt(['signaling', 'url'], plugins);
    expect(parseValue(url, 'ws://a:7300', 'signaling.url')).toBe('ws://a:7300');
    expect(parseValue(url, '["ws://a:1","ws://b:2"]', 'signaling.url')).toEqual(['ws://a:1', 'ws://b:2']);
    expect(parseValue({ type: 'integer' }, '7300', 'quic.port')).toBe(7300);
    expect(parseValue({ type: 'boolean' }, 'false', 'nat.traversal')).toBe(false);
    // A string field keeps digits as text: an agent id may be all digits.
    expect(parseValue({ type: 'string' }, '1234', 'agent.id')).toBe('1234');
    expect(parseValue({ enum: ['info', 'debug'] }, 'debug', 'log.level')).toBe('debug');
    expect(() => parseValue({ type: 'integer' }, 'seven', 'quic.port')).toThrow(
      'quic.port takes an integer, got "seven"',
    );
    expect(() => parseValue({ type: 'boolean' }, 'yes', 'nat.traversal')).toThrow('takes a boolean');
    expect(() => parseValue({ type: 'array' }, '[1,', 'nat.stunServers')).toThrow(/does not parse/);
  });
});
