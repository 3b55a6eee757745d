import { describe, expect, it } from 'vitest';
import { blameSetting } from '../../src/cli/blame-setting.js';
import { MeshError, UsageError } from '../../src/cli/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import { validateConfig } from '../../src/config/validate.js';

/** The ConfigError validateConfig throws for this file tree and these flag overrides. */
function configError(tree: Record<string, unknown>, flags: Record<string, unknown> = {}): ConfigError {
  try {
    validateConfig({ filepath: '/home/a/mesh-agent.yaml', tree }, flags);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('the config was valid');
}

describe('blameSetting', () => {
  it('names the flag that gave a bad value, in one sentence', () => {
    const flags = { signaling: { url: 'http://x' } };
    const error = blameSetting(configError({}, flags), flags, {});
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe('--server must start with ws:// or wss://');
  });

  it('names the environment variable when the value came from there', () => {
    // The environment is already layered into the tree readConfig returns.
    const error = blameSetting(
      configError({ signaling: { url: 'http://y' } }),
      {},
      { MESH_AGENT_SERVER: 'http://y' },
    );
    expect(error).toBeInstanceOf(MeshError);
    expect(error.message).toBe('MESH_AGENT_SERVER must start with ws:// or wss://');
  });

  it("leaves the config file's own mistakes to the ConfigError that names the file", () => {
    const original = configError({ signaling: { url: ['ws://a', 'http://b'] } });
    expect(original.message).toContain('/signaling/url/1: must start with ws:// or wss://');
    expect(blameSetting(original, {}, {})).toBe(original);
  });
});
