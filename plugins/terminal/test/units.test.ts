import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Member, MessageRegistry, type SignalingClientEvents } from '@mesh-agent/host';
import { describe, expect, it } from 'vitest';
import { ControlState } from '../src/control.js';
import { KeySequenceScanner } from '../src/keys.js';
import {
  registerTerminalMessages,
  TERM_EXIT,
  TERM_IN,
  TERM_OUT,
  TERM_RESIZE,
  TERM_SNAPSHOT,
} from '../src/protocol.js';
import { PtySession, shellCommand } from '../src/pty-session.js';
import { AsciicastRecorder } from '../src/recorder.js';
import type { Snapshot } from '../src/screen.js';
import { exitCodeOf } from '../src/share-end.js';
import { SharerWatch } from '../src/sharer-watch.js';
import { type FrameSink, ViewerOutbox } from '../src/viewer-fanout.js';

describe('KeySequenceScanner', () => {
  it('splits Ctrl-] commands from keys, across chunks, and passes Ctrl-] Ctrl-] through', () => {
    const scanner = new KeySequenceScanner();
    expect(scanner.scan(Buffer.from('ab\x1d'))).toEqual({ forward: Buffer.from('ab'), commands: [] });
    expect(scanner.scan(Buffer.from('dc\x1d\x1dx\x1dc'))).toEqual({
      forward: Buffer.from('c\x1dx'),
      commands: ['d', 'c'],
    });
  });
});

describe('ControlState', () => {
  it('one controller at a time; requests are remembered until granted, declined or forgotten', () => {
    const control = new ControlState();
    expect(control.canWrite('a')).toBe(false);
    expect(control.request('a')).toBe(true);
    expect(control.request('a')).toBe(false);
    expect(control.request('b')).toBe(true);
    expect(control.isPending('b')).toBe(true);
    expect(control.grant('b')).toBeNull();
    expect(control.canWrite('b')).toBe(true);
    expect(control.isPending('b')).toBe(false);
    expect(control.isPending('a')).toBe(true);
    expect(control.grant('a')).toBe('b');
    expect(control.canWrite('b')).toBe(false);
    expect(control.revoke()).toBe('a');
    expect(control.canWrite('a')).toBe(false);
    expect(control.request('a')).toBe(true);
    expect(control.forget('a')).toBe(true);
    expect(control.isPending('a')).toBe(false);
  });
});

describe('protocol schemas', () => {
  it('reject bad sizes, unknown fields and missing bodies', () => {
    const registry = new MessageRegistry();
    registerTerminalMessages(registry);
    const check =
      (header: Record<string, unknown>, body = Buffer.alloc(0)) =>
      () =>
        registry.validate({ header: header as { type: string }, body });
    expect(check({ type: TERM_RESIZE, cols: 80, rows: 24 })).not.toThrow();
    expect(check({ type: TERM_RESIZE, cols: 0, rows: 24 })).toThrow();
    expect(check({ type: TERM_RESIZE, cols: 80, rows: 24, extra: 1 })).toThrow();
    expect(check({ type: TERM_IN })).toThrow();
    expect(check({ type: TERM_IN }, Buffer.alloc(70 * 1024))).toThrow();
    expect(check({ type: TERM_OUT }, Buffer.from('x'))).not.toThrow();
    expect(
      check({ type: TERM_SNAPSHOT, cols: 80, rows: 24, owner: 'a', controller: null, reason: 'join' }),
    ).not.toThrow();
    expect(check({ type: TERM_EXIT, code: null, signal: 1, by: 'owner' })).not.toThrow();
    expect(check({ type: TERM_EXIT, code: 0, signal: null })).toThrow();
    expect(check({ type: TERM_EXIT, code: 0, signal: null, by: 'viewer' })).toThrow();
  });
});

describe('exitCodeOf', () => {
  it('0 when the owner ended the share, else the program status as a shell reports it', () => {
    expect(exitCodeOf({ code: null, signal: 1, by: 'owner' })).toBe(0);
    expect(exitCodeOf({ code: 7, signal: null, by: 'owner' })).toBe(0);
    expect(exitCodeOf({ code: 7, signal: null, by: 'program' })).toBe(7);
    expect(exitCodeOf({ code: null, signal: 9, by: 'program' })).toBe(137);
  });
});

describe('shellCommand', () => {
  it('uses $SHELL, falls back to bash, runs --command with -c, pwsh on Windows', () => {
    expect(shellCommand(undefined, 'linux', { SHELL: '/bin/zsh' })).toEqual({ file: '/bin/zsh', args: [] });
    expect(shellCommand('ls', 'linux', {})).toEqual({ file: 'bash', args: ['-c', 'ls'] });
    expect(shellCommand(undefined, 'win32', {}).file).toBe('pwsh.exe');
  });
});

/** A viewer whose sends complete only when the test lets them. */
class FakeViewer implements FrameSink {
  sent: Array<{ type: string; size: number; reason?: unknown }> = [];
  destroyed: Error | undefined;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  block(): void {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  unblock(): void {
    this.open?.();
    this.gate = undefined;
  }

  async send(header: { type: string; [k: string]: unknown }, body?: Uint8Array): Promise<void> {
    if (this.destroyed) throw this.destroyed;
    this.sent.push({ type: header.type, size: body?.length ?? 0, reason: header.reason });
    if (this.gate) await this.gate;
  }

  destroy(error?: Error): void {
    this.destroyed = error ?? new Error('destroyed');
    this.unblock();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('ViewerOutbox', () => {
  const snapshot = async (): Promise<Snapshot> => ({ data: 'SCREEN', text: 'SCREEN', cols: 80, rows: 24 });
  const options = {
    maxBuffered: 1000,
    stallMs: 200,
    snapshot,
    snapshotFields: () => ({ cols: 80, rows: 24 }),
  };

  it('a slow viewer never holds back a fast one and is resynchronised with a snapshot', async () => {
    const fast = new FakeViewer();
    const slow = new FakeViewer();
    const fastBox = new ViewerOutbox(fast, options);
    const slowBox = new ViewerOutbox(slow, { ...options, stallMs: 60_000 });
    await tick();
    slow.block();
    for (let i = 0; i < 50; i++) {
      const chunk = Buffer.alloc(100, i);
      fastBox.pushOutput(chunk);
      slowBox.pushOutput(chunk);
      await tick();
    }
    const fastBytes = fast.sent.filter((f) => f.type === TERM_OUT).reduce((n, f) => n + f.size, 0);
    expect(fastBytes).toBe(5000);
    expect(slowBox.queuedBytes).toBeLessThanOrEqual(1000);
    expect(slowBox.resyncs).toBeGreaterThan(0);
    slow.unblock();
    await tick();
    const last = slow.sent.filter((f) => f.type === TERM_SNAPSHOT).at(-1);
    expect(last?.reason).toBe('resync');
    expect(slow.sent.some((f) => f.type === 'TERM_NOTICE')).toBe(true);
  });

  it('drops a viewer that accepts nothing for stallMs', async () => {
    const stuck = new FakeViewer();
    let dropped = '';
    const box = new ViewerOutbox(stuck, { ...options, onDropped: (reason) => (dropped = reason) });
    await tick();
    stuck.block();
    box.pushOutput(Buffer.alloc(10));
    await new Promise((r) => setTimeout(r, 300));
    expect(dropped).toMatch(/accepted nothing/);
    // Its stream is destroyed once the farewell notice could not be delivered either (1 s).
    await new Promise((r) => setTimeout(r, 1100));
    expect(stuck.destroyed).toBeDefined();
  });
});

describe('PtySession input', () => {
  it('delivers input larger than the PTY buffer whole and in order', async () => {
    const size = 300_000;
    const pty = new PtySession({ command: `stty raw -echo; head -c ${size} | md5sum`, cols: 80, rows: 24 });
    let output = '';
    pty.onData((chunk) => {
      output += chunk.toString();
    });
    await new Promise((r) => setTimeout(r, 300));
    const input = Buffer.from(Array.from({ length: size }, (_, i) => 97 + (i % 26)));
    // In pieces, as pastes come: each is written at once or queued behind the ones waiting.
    for (let offset = 0; offset < size; offset += 70_000) pty.write(input.subarray(offset, offset + 70_000));
    await pty.exited;
    expect(output).toContain(createHash('md5').update(input).digest('hex'));
  });
});

describe('AsciicastRecorder', () => {
  it('writes a v2 header and output events, keeping UTF-8 split across chunks whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cast-'));
    try {
      const file = join(dir, 'x.cast');
      const recorder = await AsciicastRecorder.create(file, { cols: 80, rows: 24, command: 'demo' });
      const euro = Buffer.from('€');
      recorder.output(Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]));
      recorder.output(euro.subarray(1));
      recorder.resize(100, 30);
      await recorder.close();
      const [header, ...events] = (await readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(header).toMatchObject({ version: 2, width: 80, height: 24, command: 'demo' });
      expect(events.map((e: unknown[]) => e.slice(1))).toEqual([
        ['o', 'a'],
        ['o', '€'],
        ['r', '100x30'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SharerWatch', () => {
  const member = (agentId: string, capabilities: string[]): Member => ({
    agent_id: agentId,
    capabilities,
    addresses: [],
    fingerprint: 'f'.repeat(64),
    connected_at: 0,
  });

  /** A roster that the test changes, and a connection whose packet count it sets. */
  const setup = () => {
    const roster = new EventEmitter<SignalingClientEvents>();
    const state = { received: 0, gone: 0 };
    const watch = new SharerWatch({
      roster,
      room: 'r',
      sharer: 'alice',
      received: async () => state.received,
      onGone: () => state.gone++,
      probeMs: 10,
      quietMs: 80,
    });
    return { roster, state, watch };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('gives up on a sharer that left the roster and went silent, once', async () => {
    const { roster, state } = setup();
    roster.emit('members', 'r', [member('alice', ['file'])]);
    await sleep(200);
    expect(state.gone).toBe(1);
  });

  it('keeps a sharer that left the roster but still answers, and one that came back', async () => {
    const { roster, state, watch } = setup();
    roster.emit('members', 'other-room', []);
    roster.emit('members', 'r', []);
    const answering = setInterval(() => state.received++, 20);
    await sleep(200);
    clearInterval(answering);
    expect(state.gone).toBe(0);
    // Back with its terminal: silence alone is no reason to give up.
    roster.emit('members', 'r', [member('alice', ['terminal'])]);
    await sleep(200);
    expect(state.gone).toBe(0);
    watch.stop();
  });
});
