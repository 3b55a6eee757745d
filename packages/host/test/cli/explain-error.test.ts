import { Errors } from '@oclif/core';
import { describe, expect, it } from 'vitest';
import { MeshError, missingServer, UsageError } from '../../src/cli/errors.js';
import { errorJson, explainError, formatError } from '../../src/cli/explain-error.js';
import { ConfigError } from '../../src/config/errors.js';
import { HandshakeDeniedError, PeerUnavailableError } from '../../src/p2p/errors.js';
import { QuicConnectError } from '../../src/quic/errors.js';
import { SignalingClientError } from '../../src/signaling/client.js';

const URL_ = 'ws://127.0.0.1:7399';

describe('explainError', () => {
  it('tells a refused server, an unknown host and a timeout apart, each with a next step', () => {
    const refused = explainError(new SignalingClientError('refused', 'connect ECONNREFUSED', URL_));
    expect(refused).toMatchObject({
      code: 'server_refused',
      message: `cannot connect to the signaling server at ${URL_}: connection refused`,
      exitCode: 1,
    });
    expect(refused.hint).toMatch(/is a server running there\? Start one with: mesh-agent server --port 7399/);

    const unknown = explainError(
      new SignalingClientError('unknown_host', 'getaddrinfo ENOTFOUND x.invalid', 'ws://x.invalid:7300'),
    );
    expect(unknown).toMatchObject({
      code: 'server_unknown_host',
      message: 'cannot connect to the signaling server at ws://x.invalid:7300: unknown host "x.invalid"',
    });
    expect(unknown.hint).toMatch(
      /check the host name in --server, the config key signaling.url or MESH_AGENT_SERVER/,
    );

    const late = explainError(new SignalingClientError('connect_timeout', 'no answer … within 10 s', URL_));
    expect(late).toMatchObject({ code: 'server_timeout', message: 'no answer … within 10 s' });
    expect(late.hint).toMatch(/firewall/);
    expect(new Set([refused.hint, unknown.hint, late.hint]).size).toBe(3);
  });

  it('says what to check when the QUIC handshake with a peer fails', () => {
    const error = explainError(new QuicConnectError('QUIC connect failed: handshake timed out'));
    expect(error).toMatchObject({
      code: 'peer_unreachable',
      message: 'QUIC connect failed: handshake timed out',
    });
    expect(error.hint).toMatch(/^is the peer's agent running and listening there .* UDP must reach it/);
  });

  it('points at `mesh-agent peers` for an agent the server does not know', () => {
    const error = explainError(new PeerUnavailableError('bob', 'peer_unknown', 'agent "bob" is not known'));
    expect(error).toMatchObject({ code: 'peer_unknown', message: 'no agent "bob" is known in your rooms' });
    expect(error.hint).toMatch(/mesh-agent peers/);
    const offline = explainError(new PeerUnavailableError('bob', 'peer_offline', 'not connected'));
    expect(offline).toMatchObject({
      code: 'peer_offline',
      message: 'agent "bob" is not connected right now',
    });
  });

  it('says in words why a direct-mode token was denied', () => {
    expect(explainError(new HandshakeDeniedError('used'))).toMatchObject({
      code: 'session_used',
      message: 'the peer already took a session with this token: a direct-mode token works once',
      hint: expect.stringMatching(/fresh session id and token/),
    });
    expect(explainError(new HandshakeDeniedError('expired'))).toMatchObject({
      code: 'session_expired',
      message: 'the direct-mode token has expired',
    });
    expect(explainError(new HandshakeDeniedError('bad-token')).code).toBe('session_bad_token');
    // A reason this version does not know still reads as words.
    expect(explainError(new HandshakeDeniedError('moon-phase'))).toMatchObject({
      code: 'session_denied',
      message: 'the peer denied the session: moon-phase',
    });
    // The reason comes from the peer: its control characters must not reach the terminal.
    expect(explainError(new HandshakeDeniedError('x\u001b[2J')).message).toBe(
      'the peer denied the session: x\\x1b[2J',
    );
  });

  it('keeps a MeshError as it is, and bad input exits 2', () => {
    const usage = new UsageError('no such folder: /x');
    expect(explainError(usage)).toBe(usage);
    expect(usage.exitCode).toBe(2);
    expect(missingServer('reach agent bob')).toMatchObject({
      code: 'no_server',
      hint: expect.stringMatching(/--server, .*signaling\.url.*MESH_AGENT_SERVER/),
    });
    const config = explainError(
      new ConfigError('/etc/x.yaml', [{ path: '/a', rule: 'type', message: 'bad' }]),
    );
    expect(config).toMatchObject({ code: 'config_invalid', exitCode: 2 });
  });

  it("keeps oclif's exit code, and points bad flags at the command's help once", () => {
    const parse = new Errors.CLIError('Missing 1 required arg:\ndir\nSee more help with --help', { exit: 2 });
    expect(explainError(parse, 'send-folder')).toMatchObject({
      code: 'usage',
      message: 'Missing 1 required arg:\ndir',
      hint: 'see: mesh-agent send-folder --help',
      exitCode: 2,
    });
    expect(explainError(parse, 'config:set').hint).toBe('see: mesh-agent config set --help');
    expect(explainError(new Errors.CLIError('gotify down', { exit: 5 }))).toMatchObject({
      code: 'failed',
      exitCode: 5,
    });
  });

  it('keeps the code (in lower case, like every other code) and message of any other error, never its class name', () => {
    const io = Object.assign(new Error('EACCES: permission denied, open /x'), { code: 'EACCES' });
    expect(explainError(io)).toMatchObject({ code: 'eacces', message: io.message });
    expect(explainError(new TypeError('oops'))).toMatchObject({ code: 'failed', message: 'oops' });
  });
});

describe('formatError and errorJson', () => {
  const error = new MeshError(
    'peer_unknown',
    'no agent "bob" is known in your rooms',
    'run mesh-agent peers',
  );

  it('print the message, then the hint', () => {
    expect(formatError(error)).toBe(
      'error: no agent "bob" is known in your rooms\nhint:  run mesh-agent peers\n',
    );
    expect(formatError(new MeshError('x', 'plain'))).toBe('error: plain\n');
  });

  it('give scripts code, message and hint, and nothing else', () => {
    expect(errorJson(error)).toEqual({
      error: {
        code: 'peer_unknown',
        message: 'no agent "bob" is known in your rooms',
        hint: 'run mesh-agent peers',
      },
    });
    expect(errorJson(new MeshError('x', 'plain'))).toEqual({
      error: { code: 'x', message: 'plain', hint: null },
    });
  });
});
