import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { QuicDriver } from './driver.js';
import type { DriverCommand, DriverEvent, DriverStartOptions } from './protocol.js';

/** The channel from the public API to a running driver. */
export interface DriverLink {
  post(commands: DriverCommand[], transfer: ArrayBuffer[]): void;
  /** Stops the thread (if any); called after the driver confirmed its shutdown. */
  dispose(): Promise<void>;
}

/**
 * The driver makes many short-lived objects per packet, and node:dgram a Buffer per datagram that
 * only a scavenge frees: a small young generation keeps them from piling up between scavenges,
 * which are cheap since little survives. Measured on a receiver at 1350-byte datagrams: 16 MB let
 * 40–70 MB of datagram buffers accumulate, 4 MB about 10 MB, at no cost in throughput.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

type OnEvents = (events: DriverEvent[]) => void;

export function startDriver(
  opts: DriverStartOptions,
  onEvents: OnEvents,
  onFatal: (error: Error) => void,
): DriverLink {
  return opts.options.driver === 'worker'
    ? startWorker(opts, onEvents, onFatal)
    : startInline(opts, onEvents);
}

function startInline(opts: DriverStartOptions, onEvents: OnEvents): DriverLink {
  // Events reach the API synchronously, at the end of a driver step: no extra event-loop turn.
  // Not re-entrant: the API posts commands from a microtask (see QuicEndpoint.command), so the
  // driver is never called back while it delivers. A listener's exception must not unwind the
  // driver mid-step: it is rethrown on its own, as an uncaught exception would have been.
  const driver = new QuicDriver((events) => {
    try {
      onEvents(events);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  });
  // Started from a microtask: the caller has its link before the first event arrives.
  queueMicrotask(() => void driver.start(opts));
  return {
    post: (commands) => driver.handle(commands),
    dispose: async () => {},
  };
}

function startWorker(
  opts: DriverStartOptions,
  onEvents: OnEvents,
  onFatal: (error: Error) => void,
): DriverLink {
  const worker = import.meta.url.endsWith('.ts')
    ? // Running from TypeScript sources (tests, tsx): register tsx's loader in the worker, then load the entry.
      new Worker(
        `import(${JSON.stringify(tsxEsmApiUrl())})` +
          `.then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./driver-worker.ts', import.meta.url).href)}); })`,
        { eval: true, workerData: opts, resourceLimits: WORKER_LIMITS },
      )
    : new Worker(new URL('./driver-worker.js', import.meta.url), {
        workerData: opts,
        resourceLimits: WORKER_LIMITS,
      });
  let disposed = false;
  worker.on('message', (events: DriverEvent[]) => onEvents(events));
  worker.on('error', (error) => onFatal(error));
  worker.on('exit', (code) => {
    if (!disposed) onFatal(new Error(`QUIC driver thread exited (code ${code})`));
  });
  return {
    post: (commands, transfer) => worker.postMessage(commands, transfer),
    dispose: async () => {
      disposed = true;
      await worker.terminate();
    },
  };
}

/** tsx's ESM register API (require.resolve finds its CommonJS twin next to it). */
function tsxEsmApiUrl(): string {
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
}
