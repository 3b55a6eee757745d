import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CreateMessage } from './client.js';

/** A notification not yet delivered, as one line of the spool. */
export interface SpooledNotification {
  id: string;
  /** When the event happened (ms since the epoch). */
  at: number;
  message: CreateMessage;
}

export interface SpoolLog {
  warn(obj: object, msg: string): void;
}

/**
 * The on-disk mirror of the queue: a JSON-lines file of notifications (`{id, at, message}`) and
 * delivery marks (`{done: id}`). Lines are only appended, one write each, so a crash can at worst
 * tear the last line (skipped on load); the file is rewritten (temp file + fsync + rename) when
 * marks pile up, on load and on close. A lock file keeps a second process (a one-shot command
 * next to the daemon) from replaying the same notifications.
 */
export class Spool {
  private readonly live = new Map<string, SpooledNotification>();
  private lines = 0;
  private chain: Promise<void> = Promise.resolve();
  private failed = false;
  private locked = false;

  constructor(
    readonly path: string,
    private readonly log: SpoolLog,
  ) {}

  get lockPath(): string {
    return `${this.path}.lock`;
  }

  /** Takes the spool for this process; false when another live process holds it. */
  async acquire(): Promise<boolean> {
    await mkdir(dirname(this.path), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
        this.locked = true;
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number((await readFile(this.lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) return false;
      // Left by a process that died without releasing it.
      await rm(this.lockPath, { force: true });
    }
    return false;
  }

  /** The notifications a previous run left undelivered, oldest first. */
  async load(): Promise<SpooledNotification[]> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const parsed = parseLine(line);
      if (parsed === undefined) skipped++;
      else if ('done' in parsed) this.live.delete(parsed.done);
      else this.live.set(parsed.id, parsed);
    }
    if (skipped > 0)
      this.log.warn({ path: this.path, skipped }, 'skipped unreadable lines of the Gotify spool');
    this.lines = text ? text.split('\n').length : 0;
    await this.compact();
    return [...this.live.values()];
  }

  get size(): number {
    return this.live.size;
  }

  add(entry: SpooledNotification): void {
    this.live.set(entry.id, entry);
    this.append(entry);
  }

  /** Marks a notification as gone (delivered, rejected or dropped). */
  remove(id: string): void {
    if (!this.live.delete(id)) return;
    if (this.live.size === 0 || this.lines > 2 * this.live.size + 100) void this.compact();
    else this.append({ done: id });
  }

  /** Resolves once every write issued so far reached the file. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** Rewrites the spool with what is still undelivered and releases the lock. */
  async close(): Promise<void> {
    await this.compact();
    if (this.locked) await rm(this.lockPath, { force: true });
    this.locked = false;
  }

  private append(line: SpooledNotification | { done: string }): void {
    const text = `${JSON.stringify(line)}\n`;
    this.enqueueWrite(async () => {
      await writeFile(this.path, text, { flag: 'a', mode: 0o600 });
      this.lines++;
    });
  }

  private compact(): Promise<void> {
    return this.enqueueWrite(async () => {
      const entries = [...this.live.values()];
      if (entries.length === 0) {
        await rm(this.path, { force: true });
      } else {
        const tmp = `${this.path}.tmp`;
        const handle = await open(tmp, 'w', 0o600);
        try {
          await handle.writeFile(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmp, this.path);
      }
      this.lines = entries.length;
    });
  }

  /** Writes run one after another; a failing disk is reported once and the queue goes on in memory. */
  private enqueueWrite(write: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(write).catch((error: Error) => {
      if (this.failed) return;
      this.failed = true;
      this.log.warn(
        { path: this.path, err: error.message },
        'cannot write the Gotify spool: undelivered notifications will not survive a restart',
      );
    });
    return this.chain;
  }
}

function parseLine(line: string): SpooledNotification | { done: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Partial<SpooledNotification> & { done?: unknown };
  if (typeof v.done === 'string') return { done: v.done };
  const message = v.message as Partial<CreateMessage> | undefined;
  if (typeof v.id !== 'string' || typeof message?.message !== 'string') return undefined;
  return { id: v.id, at: typeof v.at === 'number' ? v.at : 0, message: message as CreateMessage };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
