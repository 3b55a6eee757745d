import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SILENT_LOGGER, type SignalingLogger } from '@mesh-agent/host';
import { RELAY_PATH } from '@mesh-agent/host/nat';
import { listen } from '../listen.js';
import { RelayHub, type RelayHubOptions } from './hub.js';

export interface RelayServerOptions extends RelayHubOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
}

export interface RelayServerAddress {
  address: string;
  port: number;
  /** `ws://…/relay` URL agents can use (with the listen address as given). */
  url: string;
}

/** The relay on its own HTTP server: WebSocket upgrades on `/relay` go to the hub, anything else gets 404. */
export class RelayServer {
  readonly hub: RelayHub;
  readonly #host: string;
  readonly #port: number;
  readonly #log: SignalingLogger;
  #http: Server | undefined;

  constructor(options: RelayServerOptions) {
    this.hub = new RelayHub(options);
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port;
    this.#log = options.log ?? SILENT_LOGGER;
  }

  async start(): Promise<RelayServerAddress> {
    if (this.#http) throw new Error('relay server already started');
    const http = createServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`WebSocket relay on ${RELAY_PATH}\n`);
    });
    http.on('upgrade', (request, socket, head) => this.#onUpgrade(request, socket, head));
    this.#http = http;
    await listen(http, this.#port, this.#host).catch((error: Error) => {
      this.#http = undefined;
      throw error;
    });
    http.on('error', (error) => this.#log.error({ err: error.message }, 'relay server error'));
    const { address, port } = http.address() as { address: string; port: number };
    const url = `ws://${address.includes(':') ? `[${address}]` : address}:${port}${RELAY_PATH}`;
    this.#log.info({ url, limits: this.hub.limits }, 'relay listening');
    return { address, port, url };
  }

  /** Closes every relay socket (1001), then the listening socket. */
  async stop(): Promise<void> {
    const http = this.#http;
    if (!http) return;
    this.#http = undefined;
    await this.hub.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    this.#log.info({}, 'relay stopped');
  }

  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (pathOf(request) === RELAY_PATH) {
      this.hub.upgrade(request, socket, head);
      return;
    }
    // A reset while the answer is written must not become an uncaught error.
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  }
}

/** The path of a request's URL, without its query. */
export function pathOf(request: IncomingMessage): string {
  return new URL(request.url ?? '/', 'http://relay.invalid').pathname;
}
