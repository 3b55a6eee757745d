import { Worker } from 'node:worker_threads';
import { createBLAKE3, type IHasher } from 'hash-wasm';
import type { HashThread } from './config.js';
import type { HasherReply, HasherRequest } from './hasher-worker.js';

/**
 * An incremental BLAKE3 (hash-wasm; measured against blake3@2.1.7 in bench/file-transfer/hash-bench.ts).
 * `update` resolves once the data may be reused and the backlog is small: await it to keep memory flat.
 */
export interface Blake3 {
  update(data: Uint8Array): Promise<void>;
  /** Hex digest of everything so far; hashing may continue afterwards (resume checks the prefix). */
  peek(): Promise<string>;
  /** Hex digest of everything; the hasher is closed afterwards. */
  digest(): Promise<string>;
  close(): void;
}

/** Below this size a worker's start-up costs more than hashing on the main thread. */
const WORKER_MIN_BYTES = 4 * 1024 * 1024;
/** Bytes handed to the worker and not hashed yet, before `update` starts waiting. */
const WORKER_BACKLOG = 2 * 1024 * 1024;

/** A BLAKE3 hasher on the requested thread (inline for small inputs, where a worker does not pay off). */
export async function createBlake3(
  thread: HashThread,
  expectedBytes = Number.POSITIVE_INFINITY,
): Promise<Blake3> {
  if (thread === 'worker' && expectedBytes >= WORKER_MIN_BYTES) return WorkerBlake3.start();
  return new InlineBlake3(await createBLAKE3());
}

class InlineBlake3 implements Blake3 {
  constructor(private readonly hasher: IHasher) {
    hasher.init();
  }

  async update(data: Uint8Array): Promise<void> {
    this.hasher.update(data);
  }

  async peek(): Promise<string> {
    const state = this.hasher.save();
    const hex = this.hasher.digest('hex');
    this.hasher.load(state);
    return hex;
  }

  async digest(): Promise<string> {
    return this.hasher.digest('hex');
  }

  close(): void {}
}

/** BLAKE3 on a worker thread: chunks are copied over (the caller still writes or sends them). */
class WorkerBlake3 implements Blake3 {
  private pendingBytes = 0;
  private nextId = 0;
  private readonly answers = new Map<number, { resolve(hex: string): void; reject(error: Error): void }>();
  private drained: Array<() => void> = [];
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: HasherReply) => this.onReply(reply));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', () => this.fail(new Error('the hashing worker exited')));
  }

  static start(): WorkerBlake3 {
    const worker = new Worker(new URL('./hasher-worker.js', import.meta.url));
    // A hasher must never keep the process alive on its own.
    worker.unref();
    return new WorkerBlake3(worker);
  }

  async update(data: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const copy = new Uint8Array(data);
    this.pendingBytes += copy.byteLength;
    this.post({ op: 'update', data: copy }, [copy.buffer]);
    if (this.pendingBytes > WORKER_BACKLOG) {
      await new Promise<void>((resolve) => this.drained.push(resolve));
      if (this.failure) throw this.failure;
    }
  }

  peek(): Promise<string> {
    return this.ask('peek');
  }

  async digest(): Promise<string> {
    try {
      return await this.ask('digest');
    } finally {
      this.close();
    }
  }

  close(): void {
    this.failure ??= new Error('the hasher is closed');
    void this.worker.terminate();
  }

  private ask(op: 'peek' | 'digest'): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.answers.set(id, { resolve, reject });
      this.post({ op, id });
    });
  }

  private post(message: HasherRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private onReply(reply: HasherReply): void {
    if (reply.op === 'ack') {
      this.pendingBytes -= reply.bytes;
      if (this.pendingBytes <= WORKER_BACKLOG / 2) for (const wake of this.drained.splice(0)) wake();
      return;
    }
    this.answers.get(reply.id)?.resolve(reply.hex);
    this.answers.delete(reply.id);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const { reject } of this.answers.values()) reject(error);
    this.answers.clear();
    for (const wake of this.drained.splice(0)) wake();
  }
}
