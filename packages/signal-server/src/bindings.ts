import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SILENT_LOGGER, type SignalingLogger } from '@mesh-agent/host';
import type { BindingStore } from './cluster/backplane.js';

export type ClaimResult = { ok: true; created: boolean } | { ok: false; boundTo: string };

/** Checks `fingerprint` against the one `agentId` is bound to, when it is. */
export function claimAgainst(boundTo: string | undefined, fingerprint: string): ClaimResult | undefined {
  if (boundTo === undefined) return undefined;
  return boundTo === fingerprint ? { ok: true, created: false } : { ok: false, boundTo };
}

interface Binding {
  fingerprint: string;
  bound_at: number;
}

export interface IdentityBindingsOptions {
  /** Where bindings persist (`bindings.json`); in memory only when omitted. */
  dataDir?: string;
  /** Bindings the operator fixed in the token file: agent id → fingerprint. */
  pinned?: ReadonlyMap<string, string>;
  /** Refuse new ids beyond this many, so a flood of made-up ids cannot grow the file without end. */
  maxBindings?: number;
  log?: SignalingLogger;
}

export const BINDINGS_FILE = 'bindings.json';

/**
 * Which key each agent id belongs to. The first key to present an id (after proving it holds
 * it) keeps it; a second key is refused. The operator frees an id by deleting its entry.
 */
export class IdentityBindings implements BindingStore {
  readonly #bindings: Map<string, Binding>;
  readonly #pinned: ReadonlyMap<string, string>;
  readonly #file: string | undefined;
  readonly #maxBindings: number;
  readonly #log: SignalingLogger;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;

  private constructor(bindings: Map<string, Binding>, options: IdentityBindingsOptions) {
    this.#bindings = bindings;
    this.#pinned = options.pinned ?? new Map();
    this.#file = options.dataDir === undefined ? undefined : join(options.dataDir, BINDINGS_FILE);
    this.#maxBindings = options.maxBindings ?? 100_000;
    this.#log = options.log ?? SILENT_LOGGER;
  }

  static async open(options: IdentityBindingsOptions = {}): Promise<IdentityBindings> {
    const bindings = new Map<string, Binding>();
    if (options.dataDir !== undefined) {
      const file = join(options.dataDir, BINDINGS_FILE);
      let text: string | undefined;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (text !== undefined) {
        for (const [agentId, binding] of Object.entries(parseBindings(text, file)))
          bindings.set(agentId, binding);
      }
    }
    return new IdentityBindings(bindings, options);
  }

  /** Binds `agentId` to `fingerprint` on first use; refuses any other key afterwards. */
  async claim(agentId: string, fingerprint: string): Promise<ClaimResult> {
    const known =
      claimAgainst(this.#pinned.get(agentId), fingerprint) ??
      claimAgainst(this.#bindings.get(agentId)?.fingerprint, fingerprint);
    if (known) return known;
    if (this.#bindings.size >= this.#maxBindings)
      return { ok: false, boundTo: '(no room for new agent ids)' };
    this.#bindings.set(agentId, { fingerprint, bound_at: Date.now() });
    this.#persist();
    return { ok: true, created: true };
  }

  get size(): number {
    return this.#bindings.size;
  }

  /** Resolves once everything claimed so far is on disk. */
  async flush(): Promise<void> {
    await this.#writing;
  }

  #persist(): void {
    const file = this.#file;
    if (file === undefined) return;
    if (this.#dirty) return;
    this.#dirty = true;
    // One write at a time; claims that land meanwhile ride along with the next one.
    this.#writing = this.#writing.then(async () => {
      this.#dirty = false;
      const text = `${JSON.stringify(Object.fromEntries(this.#bindings), null, 2)}\n`;
      try {
        await mkdir(dirname(file), { recursive: true, mode: 0o700 });
        const temporary = `${file}.${process.pid}.tmp`;
        await writeFile(temporary, text, { mode: 0o600 });
        await rename(temporary, file);
      } catch (error) {
        // The binding still holds in memory; a restart would forget it, so say so loudly.
        this.#log.error({ err: (error as Error).message, file }, 'could not persist identity bindings');
      }
    });
  }
}

function parseBindings(text: string, file: string): Record<string, Binding> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}); fix or remove it`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${file}: expected an object of agent id → { fingerprint, bound_at }`);
  }
  for (const [agentId, binding] of Object.entries(value)) {
    const fingerprint = (binding as Partial<Binding> | null)?.fingerprint;
    if (typeof fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(fingerprint)) {
      throw new Error(`${file}: the entry for "${agentId}" has no valid fingerprint`);
    }
  }
  return value as Record<string, Binding>;
}
