import { describe, expect, it } from 'vitest';
import { parseRelayBind, parseRelayServerMessage } from '../../src/nat/relay-protocol.js';

describe('relay protocol', () => {
  it('accepts exactly a relay.bind with a string grant', () => {
    expect(parseRelayBind('{"type":"relay.bind","grant":"g"}')).toEqual({
      ok: true,
      bind: { type: 'relay.bind', grant: 'g' },
    });
    for (const text of [
      '',
      '{',
      'null',
      '[]',
      '"relay.bind"',
      '{"type":"relay.bind"}',
      '{"type":"relay.bind","grant":1}',
      '{"type":"relay.bound","grant":"g"}',
      '{"type":"relay.bind","grant":"g","session_id":"s"}',
    ]) {
      expect(parseRelayBind(text).ok, text).toBe(false);
    }
  });

  it('reads the hub messages and ignores what it does not know', () => {
    expect(parseRelayServerMessage('{"type":"relay.bound","session_id":"s","peer":"absent"}')).toEqual({
      type: 'relay.bound',
      session_id: 's',
      peer: 'absent',
    });
    expect(parseRelayServerMessage('{"type":"relay.peer","state":"gone"}')).toEqual({
      type: 'relay.peer',
      state: 'gone',
    });
    expect(parseRelayServerMessage('{"type":"relay.error","code":"expired","message":"m"}')).toMatchObject({
      code: 'expired',
    });
    for (const text of [
      '{"type":"relay.peer","state":"maybe"}',
      '{"type":"relay.bound","session_id":1,"peer":"absent"}',
      '{"type":"relay.error","code":"toString","message":"m"}',
      '{"type":"relay.hello"}',
      'not json',
    ]) {
      expect(parseRelayServerMessage(text), text).toBeUndefined();
    }
  });
});
