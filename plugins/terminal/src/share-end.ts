import type { EndedBy } from './protocol.js';
import type { PtyExit } from './pty-session.js';

/** How a share ended, as the owner and every viewer learn it (TERM_EXIT). */
export interface ShareEnd extends PtyExit {
  by: EndedBy;
}

/** The program's exit status in words. */
export function describeExit(exit: PtyExit): string {
  return exit.signal !== null ? `killed by signal ${exit.signal}` : `exit code ${exit.code}`;
}

/**
 * The exit code of share-terminal and attach-terminal once the share ended: 0 when the owner ended
 * it on purpose (the hang-up it gave the program is no failure), else the program's own, a signal
 * as 128 + its number (as ssh does).
 */
export function exitCodeOf(end: ShareEnd): number {
  if (end.by === 'owner') return 0;
  return end.code ?? 128 + (end.signal ?? 0);
}
