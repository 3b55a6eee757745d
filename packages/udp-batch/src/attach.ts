import type dgram from 'node:dgram';
import { loadBinding } from './binding.js';
import { dgramHandle } from './dgram-handle.js';
import { FallbackUdp } from './fallback-udp.js';
import { NativeUdp } from './native-udp.js';
import type { BatchUdp } from './types.js';

export interface AttachOptions {
  /** false: plain node:dgram behind the same interface. Default true. */
  batch?: boolean;
  /** false: sendmmsg without UDP GSO. Default true. */
  gso?: boolean;
}

/** `off`: no batching; `no-gso`: batching without GSO. Read at every attach. */
export const ENV_SWITCH = 'MESH_AGENT_UDP_BATCH';

/**
 * Batched I/O on a bound socket: the addon where it works, else node:dgram with
 * `unavailableReason` saying why. The socket stays the caller's to use and to close.
 */
export function attach(socket: dgram.Socket, options: AttachOptions = {}): BatchUdp {
  const env = process.env[ENV_SWITCH];
  if (options.batch === false) return new FallbackUdp(socket, 'disabled by option');
  if (env === 'off') return new FallbackUdp(socket, `disabled by ${ENV_SWITCH}=off`);
  const binding = loadBinding();
  if (typeof binding === 'string') return new FallbackUdp(socket, binding);
  const handle = dgramHandle(socket);
  if (typeof handle === 'string') return new FallbackUdp(socket, handle);
  const gsoDisabledBy =
    options.gso === false
      ? 'disabled by option'
      : env === 'no-gso'
        ? `disabled by ${ENV_SWITCH}=no-gso`
        : null;
  let native: InstanceType<typeof binding.UdpBatchNative>;
  try {
    native = new binding.UdpBatchNative(handle.fd, gsoDisabledBy === null);
  } catch (error) {
    return new FallbackUdp(socket, `the socket cannot be batched: ${(error as Error).message}`);
  }
  return new NativeUdp(socket, handle, native, binding.limits, gsoDisabledBy);
}
