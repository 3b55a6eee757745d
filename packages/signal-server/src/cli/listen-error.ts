import { MeshError } from '@mesh-agent/host';

/** A listen failure by the system's error code: what happened, and what to do. */
const EXPLAINED: Readonly<Record<string, [words: string, hint: (flag: string) => string]>> = {
  EADDRINUSE: [
    'the port is in use',
    (flag) =>
      `another program (another server?) has that port: stop it, or pick another with ${flag} (0: any free one)`,
  ],
  EACCES: [
    'permission denied',
    (flag) => `ports below 1024 need privileges: pick a higher ${flag}, or run behind a reverse proxy`,
  ],
  EADDRNOTAVAIL: [
    'no such address on this machine',
    () => '--host must be an address of this machine (0.0.0.0: all of them)',
  ],
};

interface SystemError {
  code?: unknown;
  syscall?: unknown;
  address?: unknown;
  port?: unknown;
}

/**
 * The server's or the relay's listen failure, in words (code `listen_failed`, exit 1). It names the
 * port that failed, which may be one of the server's STUN ports (UDP, --stun-port) rather than --port.
 */
export function cannotListen(host: string, port: number, error: unknown): MeshError {
  const system = error as SystemError;
  const udp = system.syscall === 'bind';
  const where =
    typeof system.address === 'string' && typeof system.port === 'number'
      ? `${system.address}:${system.port}${udp ? ' (UDP)' : ''}`
      : `${host}:${port}`;
  const known = typeof system.code === 'string' ? EXPLAINED[system.code] : undefined;
  return new MeshError(
    'listen_failed',
    `cannot listen on ${where}: ${known ? known[0] : (error as Error).message}`,
    known?.[1](udp ? '--stun-port' : '--port'),
  );
}
