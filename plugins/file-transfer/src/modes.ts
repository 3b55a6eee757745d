/** What a received file or directory is: the owner's bits it always keeps differ. */
export type ReceivedKind = 'file' | 'dir';

/**
 * Permission bits for something a peer sent: its read and execute bits, never set-id, sticky,
 * or write for group and others; its owner (this agent's user) may always read and write it, and
 * enter it when it is a directory. Without a mode from the sender: 0644 / 0755.
 */
export function receivedMode(sent: number | undefined, kind: ReceivedKind): number {
  const owner = kind === 'dir' ? 0o700 : 0o600;
  const fallback = kind === 'dir' ? 0o755 : 0o644;
  return ((sent ?? fallback) & 0o755) | owner;
}
