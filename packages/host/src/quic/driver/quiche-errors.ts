import type { Connection } from '@matrixai/quic/native/index.js';
import type { ConnectionCloseInfo } from '../protocol.js';

/** quiche reports failures as `Name(code)` error messages. */
export function quicheError(error: unknown): { name: string; code: number | null } {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^(\w+)(?:\((\d+)\))?/.exec(message);
  return { name: match?.[1] ?? message, code: match?.[2] !== undefined ? Number(match[2]) : null };
}

/** Why a closed quiche connection closed, as the main thread reports it. */
export function describeClose(q: Connection): ConnectionCloseInfo {
  const peer = q.peerError();
  const local = q.localError();
  const err = peer ?? local;
  if (err) {
    const reason = Buffer.from(err.reason).toString('utf8');
    const info: ConnectionCloseInfo = { code: err.errorCode, reason, byPeer: peer !== null };
    if (!err.isApp && err.errorCode !== 0)
      info.error = `transport error 0x${err.errorCode.toString(16)}${reason ? ` (${reason})` : ''}`;
    return info;
  }
  if (q.isTimedOut()) return { code: 0, reason: '', byPeer: false, error: 'idle timeout' };
  return { code: 0, reason: '', byPeer: false, error: 'connection closed' };
}
