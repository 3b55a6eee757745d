import { describe, expect, it } from 'vitest';
import { REDACTED, redactSecrets } from '../../src/log/redact.js';

describe('redactSecrets', () => {
  it('hides values under secret keys, but not the keys that say where a secret is kept', () => {
    expect(
      redactSecrets({
        token: 'tok-1',
        appToken: 'tok-2',
        tokens: ['a', 'b'],
        relaySecret: 's',
        password: 'p',
        tokenEnv: 'GOTIFY_TOKEN',
        tokenFile: '/etc/mesh/token',
        token_file: '/etc/mesh/token',
        'relay-secret-file': '/etc/mesh/relay.secret',
        secretDir: '/run/secrets',
      }),
    ).toEqual({
      token: REDACTED,
      appToken: REDACTED,
      tokens: [REDACTED, REDACTED],
      relaySecret: REDACTED,
      password: REDACTED,
      tokenEnv: 'GOTIFY_TOKEN',
      tokenFile: '/etc/mesh/token',
      token_file: '/etc/mesh/token',
      'relay-secret-file': '/etc/mesh/relay.secret',
      secretDir: '/run/secrets',
    });
  });

  it('hides the credentials of URLs in any string', () => {
    expect(redactSecrets({ url: 'https://user:pw@push.example.com/message?token=abc&x=1' })).toEqual({
      url: `https://${REDACTED}:${REDACTED}@push.example.com/message?token=${REDACTED}&x=1`,
    });
  });
});
