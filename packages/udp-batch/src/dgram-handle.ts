import type dgram from 'node:dgram';

/** The parts of node:dgram's internal UDP handle that batching needs. */
export interface DgramHandle {
  fd: number;
  recvStart(): number;
  recvStop(): number;
}

/**
 * The libuv handle behind a bound socket, or why it cannot be had. Read through dgram's own state
 * symbol rather than `socket._handle`, whose getter prints a deprecation warning (DEP0112); the
 * addon then checks that the fd really is a UDP socket.
 */
export function dgramHandle(socket: dgram.Socket): DgramHandle | string {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (!state) return 'node:dgram has no state symbol in this Node version';
  const handle = (socket as unknown as Record<symbol, { handle?: Partial<DgramHandle> } | undefined>)[state]
    ?.handle;
  if (!handle) return 'the socket is closed';
  if (typeof handle.recvStart !== 'function' || typeof handle.recvStop !== 'function')
    return 'the UDP handle has no recvStart/recvStop in this Node version';
  if (typeof handle.fd !== 'number' || handle.fd < 0) return 'the socket is not bound';
  return handle as DgramHandle;
}
