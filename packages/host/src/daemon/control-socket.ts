import { chmod, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The daemon's local control socket: newline-delimited JSON requests
 * `{ id, method, params }` answered by `{ id, result }` or `{ id, error }`.
 * Only the owner can connect (mode 0600 inside the agent home).
 */
export type ControlHandler = (params: Record<string, unknown>) => unknown | Promise<unknown>;

const MAX_LINE = 1024 * 1024;

export function controlSocketPath(home: string): string {
  return join(home, 'agent.sock');
}

export class ControlServer {
  private readonly handlers = new Map<string, ControlHandler>();
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(readonly path: string) {}

  handle(method: string, handler: ControlHandler): void {
    if (this.handlers.has(method)) throw new Error(`control method ${method} is already handled`);
    this.handlers.set(method, handler);
  }

  async listen(): Promise<void> {
    if (await isLive(this.path)) {
      throw new Error(`another agent already runs for this home (control socket ${this.path} answers)`);
    }
    await unlink(this.path).catch(() => {});
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    await chmod(this.path, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    await unlink(this.path).catch(() => {});
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', async (line) => {
      if (line.length > MAX_LINE) return void socket.destroy();
      let id: unknown = null;
      try {
        const request = JSON.parse(line) as { id?: unknown; method?: unknown; params?: unknown };
        id = request.id ?? null;
        const handler = typeof request.method === 'string' ? this.handlers.get(request.method) : undefined;
        if (!handler) throw new Error(`unknown control method ${JSON.stringify(request.method)}`);
        const params = (request.params ?? {}) as Record<string, unknown>;
        socket.write(`${JSON.stringify({ id, result: await handler(params) })}\n`);
      } catch (error) {
        socket.write(`${JSON.stringify({ id, error: (error as Error).message })}\n`);
      }
    });
  }
}

/** Calls one method on the daemon; rejects with ENOENT/ECONNREFUSED codes when none runs. */
export async function callControl(
  path: string,
  method: string,
  params: object = {},
  timeoutMs = 5_000,
): Promise<unknown> {
  const socket = connect(path);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(`${JSON.stringify({ id: 1, method, params })}\n`);
    const lines = createInterface({ input: socket });
    const reply = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the daemon did not answer ${method} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve(line);
      });
      socket.once('close', () => reject(new Error('the daemon closed the control socket')));
    });
    const response = JSON.parse(reply) as { result?: unknown; error?: string };
    if (response.error !== undefined) throw new Error(response.error);
    return response.result;
  } finally {
    socket.destroy();
  }
}

async function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
