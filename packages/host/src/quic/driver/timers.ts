import type { Outbox } from './outbox.js';
import type { DriverConnection } from './state.js';
import type { DriverTurn } from './turn.js';

/** Longest an ACK waits for a reply to carry it (see `mayDelayAck`). */
const ACK_DELAY_MS = 1;

/** A connection's clocks: quiche's next deadline (loss recovery, idle timeout) and the delayed ACK. */
export class ConnectionTimers {
  constructor(
    private readonly turn: DriverTurn,
    private readonly outbox: Outbox,
  ) {}

  /**
   * One datagram of stream data, and nothing of ours to send: most likely a request whose answer
   * comes within a millisecond (a keystroke and its echo). Its ACK then waits for the answer and
   * leaves in the same packet, sparing both peers a packet, a wake-up and a decryption. Anything
   * else (two or more datagrams, writes, returned credit, handshake) is answered at once, so bulk
   * transfers ACK as before. The delay stays far below the max_ack_delay we advertise (25 ms).
   */
  mayDelayAck(conn: DriverConnection): boolean {
    return (
      (conn.delivered || conn.ackTimer !== null) &&
      conn.datagramsSinceSend === 1 &&
      !conn.outbound &&
      conn.pendingSend.size === 0 &&
      conn.established &&
      !conn.gone
    );
  }

  delayAck(conn: DriverConnection): void {
    conn.ackTimer ??= setTimeout(this.onAckTimer, ACK_DELAY_MS, conn);
  }

  private readonly onAckTimer = (conn: DriverConnection): void => {
    conn.ackTimer = null;
    this.turn.transmit(conn);
    this.outbox.flush();
  };

  /** Keeps the earliest deadline armed; an early wake-up is harmless (quiche ignores timers not yet due). */
  armTimer(conn: DriverConnection): void {
    const ms = conn.q.timeout();
    if (ms === null) {
      if (conn.timer) clearTimeout(conn.timer);
      conn.timer = null;
      return;
    }
    const at = performance.now() + ms;
    if (conn.timer) {
      if (at >= conn.timerAt - 1) return;
      clearTimeout(conn.timer);
    }
    conn.timerAt = at;
    conn.timer = setTimeout(this.onTimer, ms, conn);
  }

  private readonly onTimer = (conn: DriverConnection): void => {
    conn.timer = null;
    if (conn.gone) return;
    conn.q.onTimeout();
    this.turn.process(conn);
    this.outbox.flush();
  };
}
