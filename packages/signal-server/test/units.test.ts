import { describe, expect, it } from 'vitest';
import {
  parseTokenFile,
  parseTokenList,
  SignalServer,
  SignalServerConfigError,
  TokenAuthenticator,
  TokenBucket,
  TokenParseError,
} from '../src/index.js';

describe('TokenAuthenticator', () => {
  const auth = new TokenAuthenticator([
    'shared-token-0123456789',
    { token: 'alice-token-0123456789', agentId: 'alice', rooms: ['team', 'ops'] },
    { token: 'any-room-token-0123456789', rooms: '*' },
  ]);
  const verdict = (token: string | undefined, agentId: string) => {
    const result = auth.check(token, agentId);
    return result.ok ? 'ok' : result.reason;
  };

  it('accepts known tokens, honouring agent bindings', () => {
    expect(verdict('shared-token-0123456789', 'anyone')).toBe('ok');
    expect(verdict('alice-token-0123456789', 'alice')).toBe('ok');
    expect(verdict('alice-token-0123456789', 'bob')).toBe('invalid');
  });

  it('grants the rooms the token names, the default room when it names none', () => {
    expect(auth.check('alice-token-0123456789', 'alice')).toMatchObject({ rooms: ['team', 'ops'] });
    expect(auth.check('shared-token-0123456789', 'x')).toMatchObject({ rooms: ['default'] });
    expect(auth.check('any-room-token-0123456789', 'x')).toMatchObject({ rooms: '*' });
  });

  it('refuses missing, unknown and near-miss tokens', () => {
    expect(verdict(undefined, 'alice')).toBe('missing');
    expect(verdict('', 'alice')).toBe('missing');
    expect(verdict('shared-token-012345678', 'alice')).toBe('invalid');
    expect(verdict('shared-token-01234567890', 'alice')).toBe('invalid');
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    let now = 0;
    const bucket = new TokenBucket({ messagesPerSecond: 10, burst: 3 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 100;
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    now += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });

  it('takes a cost of several tokens, or none when fewer are left', () => {
    let now = 0;
    const bytes = new TokenBucket({ messagesPerSecond: 1000, burst: 1500 }, () => now);
    expect(bytes.take(1000)).toBe(true);
    expect(bytes.take(1000)).toBe(false);
    expect(bytes.take(500)).toBe(true);
    now += 1000;
    expect(bytes.take(1000)).toBe(true);
  });
});

describe('token specs', () => {
  it('reads plain and agent-bound tokens from a file, skipping blanks and comments', () => {
    const text =
      '# tokens\n\nplain-token-0123456789\r\nalice: alice-token-0123456789\n  # indented comment\n';
    expect(parseTokenFile(text, 'tokens.txt')).toEqual([
      { token: 'plain-token-0123456789' },
      { token: 'alice-token-0123456789', agentId: 'alice' },
    ]);
  });

  it('names the line of a bad entry without echoing the token', () => {
    const parse = () => parseTokenFile('ok-token-0123456789\nbad id!:secret-value-0123\n', 'tokens.txt');
    expect(parse).toThrow(TokenParseError);
    expect(parse).toThrow(/tokens\.txt:2/);
    expect(parse).not.toThrow(/secret-value/);
    expect(() => parseTokenFile('alice:\n', 'f')).toThrow(/empty token/);
  });

  it('reads rooms= and fingerprint= attributes', () => {
    const fp = 'ab'.repeat(32);
    expect(
      parseTokenFile(`alice:tok-a-0123456789 rooms=team+ops fingerprint=${fp.toUpperCase()}\n`, 'f'),
    ).toEqual([{ token: 'tok-a-0123456789', agentId: 'alice', rooms: ['team', 'ops'], fingerprint: fp }]);
    expect(parseTokenList(['tok-b-0123456789 rooms=*'], 'env')).toEqual([
      { token: 'tok-b-0123456789', rooms: '*' },
    ]);
    const bad = (spec: string) => () => parseTokenFile(`${spec}\n`, 'f');
    expect(bad('tok-0123456789 rooms=a,b')).toThrow(/rooms= takes room names/);
    expect(bad('tok-0123456789 rooms=')).toThrow(/rooms= takes room names/);
    expect(bad('tok-0123456789 fingerprint=abc')).toThrow(/needs an agent id|64 hex/);
    expect(bad('a:tok-0123456789 fingerprint=abc')).toThrow(/64 hex/);
    expect(bad('a:tok-0123456789 colour=red')).toThrow(/unknown attribute "colour"/);
    expect(bad('tok-0123456789 secret-looking-word')).toThrow(/expected/);
    expect(bad('tok-0123456789 secret-looking-word')).not.toThrow(/secret-looking/);
  });

  it('splits comma-separated lists', () => {
    expect(parseTokenList(['a:tok-a-0123456789012,tok-b-0123456789012', ''], 'env')).toEqual([
      { token: 'tok-a-0123456789012', agentId: 'a' },
      { token: 'tok-b-0123456789012' },
    ]);
  });
});

describe('SignalServer options', () => {
  it.each([
    [{ port: 0 }, /no tokens/],
    [{ port: 0, tokens: ['short'] }, /at least 16/],
    [{ port: 0, open: true, sessionTtlS: 59 }, /60–180/],
    [{ port: 0, open: true, sessionTtlS: 181 }, /60–180/],
    [{ port: 70_000, open: true }, /port/],
    [{ port: 0, open: true, maxMessageBytes: 10 }, /maxMessageBytes/],
    [{ port: 0, open: true, rateLimit: { messagesPerSecond: 0, burst: 1 } }, /rate limit/],
  ])('rejects %o', (options, message) => {
    expect(() => new SignalServer(options)).toThrow(SignalServerConfigError);
    expect(() => new SignalServer(options)).toThrow(message);
  });

  it('fails to start on a port in use, with the system error', async () => {
    const first = new SignalServer({ port: 0, open: true });
    const { port } = await first.start();
    try {
      await expect(new SignalServer({ port, open: true }).start()).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.stop();
    }
  });
});
