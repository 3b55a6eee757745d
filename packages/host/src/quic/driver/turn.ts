import type { DriverConnection } from './state.js';

/** What timers and the handshake ask of the driver's event-loop turn (implemented by QuicDriver). */
export interface DriverTurn {
  /** Schedules the connection for the next pump. */
  markDirty(conn: DriverConnection): void;
  /** Collects the connection's stream news, then transmits. */
  process(conn: DriverConnection): void;
  /** Sends the connection's packets now. */
  transmit(conn: DriverConnection): void;
}
