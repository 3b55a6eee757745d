import { afterEach, describe, expect, it } from 'vitest';
import { Harness, hello, type RawAgent } from './helpers.js';

let harness: Harness;
afterEach(async () => {
  await harness.dispose();
});

/** A raw socket that has said hello; `ping()` proves the connection still works. */
async function authenticated(options: Parameters<Harness['server']>[0] = {}): Promise<RawAgent> {
  harness = new Harness();
  const { url } = await harness.server(options);
  const agent = await harness.raw(url);
  await agent.hello(hello('raw-agent'));
  return agent;
}

async function stillUp(agent: RawAgent): Promise<void> {
  const id = agent.send('system.ping', {});
  const pong = await agent.next((e) => e.type === 'system.pong' && e.data.request_id === id);
  expect(pong.data.request_id).toBe(id);
}

function errorOf(agent: RawAgent, code: string) {
  return agent.next((e) => e.type === 'system.error' && e.data.code === code);
}

describe('SignalServer on bad input', () => {
  it('answers malformed JSON with invalid_json and stays up', async () => {
    const agent = await authenticated();
    agent.sendText('{"type": "system.ping", "id": ');
    const error = await errorOf(agent, 'invalid_json');
    expect(error.data.message).toMatch(/not valid JSON/);
    await stillUp(agent);
  });

  it('answers an invalid envelope with invalid_envelope and stays up', async () => {
    const agent = await authenticated();
    agent.sendText(JSON.stringify({ type: 'system.ping', data: {} }));
    const error = await errorOf(agent, 'invalid_envelope');
    expect(error.data.message).toMatch(/id/);
    agent.sendText(JSON.stringify({ type: 'NoPlane', id: crypto.randomUUID(), data: {} }));
    const second = await agent.next((e) => e.type === 'system.error' && /type/.test(String(e.data.message)));
    expect(second.data.code).toBe('invalid_envelope');
    await stillUp(agent);
  });

  it('answers an unknown core event type with unknown_event (ref_id set) and stays up', async () => {
    const agent = await authenticated();
    const id = agent.send('system.bogus', {});
    const error = await errorOf(agent, 'unknown_event');
    expect(error.data).toMatchObject({ ref_id: id, message: expect.stringContaining('system.bogus') });
    const serverOnly = agent.send('p2p.session', {});
    const second = await agent.next((e) => e.type === 'system.error' && e.data.ref_id === serverOnly);
    expect(second.data.message).toMatch(/not sent by agents/);
    await stillUp(agent);
  });

  it('answers invalid event data with invalid_event naming the field', async () => {
    const agent = await authenticated();
    const id = agent.send('p2p.request', { peer_id: 'bad id!', stream_type: 'file' });
    const error = await agent.next((e) => e.type === 'system.error' && e.data.ref_id === id);
    expect(error.data).toMatchObject({ code: 'invalid_event', message: expect.stringContaining('peer_id') });
    const noTo = agent.send('term.invite', { session: 'x' });
    const second = await agent.next((e) => e.type === 'system.error' && e.data.ref_id === noTo);
    expect(second.data.message).toMatch(/to/);
    await stillUp(agent);
  });

  it('requires system.hello first and closes sockets that never send it', async () => {
    harness = new Harness();
    const { url } = await harness.server({ helloTimeoutMs: 300 });
    const agent = await harness.raw(url);
    agent.send('room.members', { room: 'default' });
    await errorOf(agent, 'hello_required');
    expect(await agent.closed).toMatchObject({ code: 4408 });
  });

  it('rejects an oversized message with message_too_large and closes', async () => {
    const agent = await authenticated({ maxMessageBytes: 4096 });
    agent.send('term.blob', { to: 'raw-agent', blob: 'x'.repeat(5000) });
    const error = await errorOf(agent, 'message_too_large');
    expect(error.data.message).toMatch(/4096/);
    expect(await agent.closed).toMatchObject({ code: 1009 });
  });

  it('accepts a message just under the limit', async () => {
    const agent = await authenticated({ maxMessageBytes: 4096 });
    const id = agent.send('system.ping', { ts: 1 });
    const padding = 4096 - Buffer.byteLength(JSON.stringify({ type: 'system.ping', id, data: { ts: 1 } }));
    expect(padding).toBeGreaterThan(0);
    // Whitespace keeps it valid JSON while filling it to exactly the limit.
    const exact = `${JSON.stringify({ type: 'system.ping', id: crypto.randomUUID(), data: { ts: 1 } })}${' '.repeat(padding)}`;
    expect(Buffer.byteLength(exact)).toBe(4096);
    agent.sendText(exact);
    await agent.next((e) => e.type === 'system.pong' && e.data.request_id !== id);
  });

  it('closes a connection that exceeds its rate limit', async () => {
    const agent = await authenticated({ rateLimit: { messagesPerSecond: 5, burst: 5 } });
    for (let i = 0; i < 20; i++) agent.send('system.ping', {});
    const error = await errorOf(agent, 'rate_limited');
    expect(error.data.message).toMatch(/5 messages\/s/);
    expect(await agent.closed).toMatchObject({ code: 4429 });
    const pongs = agent.messages.filter((e) => e.type === 'system.pong').length;
    // The hello took one token; four pings fit in the burst.
    expect(pongs).toBe(4);
  });

  it('lets a connection within its rate through', async () => {
    const agent = await authenticated({ rateLimit: { messagesPerSecond: 50, burst: 3 } });
    for (let i = 0; i < 6; i++) {
      await stillUp(agent);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    expect(agent.messages.some((e) => e.type === 'system.error')).toBe(false);
  });
});
