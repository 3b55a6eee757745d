import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { TickCorker } from '../../src/nat/tick-corker.js';

let wss: WebSocketServer | undefined;
afterEach(async () => {
  for (const client of wss?.clients ?? []) client.terminate();
  await new Promise((resolve) => wss?.close(resolve));
});

describe('TickCorker', () => {
  it('holds a socket’s frames until the end of the tick, then sends them all in order', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const { port } = wss.address() as { port: number };
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const [server] = (await once(wss, 'connection')) as [WebSocket];
    await once(ws, 'open');
    const received: string[] = [];
    server.on('message', (data) => received.push(String(data)));

    const corker = new TickCorker();
    // The corker relies on ws writing through `_socket`: this fails first if ws stops doing so.
    const socket = (ws as unknown as { _socket: Socket })._socket;
    for (let i = 0; i < 50; i++) {
      corker.cork(ws);
      ws.send(String(i));
    }
    expect(socket.writableCorked).toBe(1);
    expect(ws.bufferedAmount).toBeGreaterThan(0);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(socket.writableCorked).toBe(0);
    while (received.length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    ws.terminate();
  });
});
