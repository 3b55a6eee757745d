import { describe, expect, it } from 'vitest';
import { formatLogLine, formatLogRecord } from '../../src/log/text-format.js';

describe('formatLogRecord', () => {
  it('reads level, part and message, then the other fields as key=value', () => {
    const line = formatLogRecord({
      level: 40,
      time: 1,
      pid: 7,
      name: 'mesh-agent',
      part: 'signaling',
      url: 'ws://127.0.0.1:7300',
      attempt: 3,
      msg: 'reconnecting in 2 s',
    });
    expect(line).toBe('warn  signaling: reconnecting in 2 s  url=ws://127.0.0.1:7300  attempt=3\n');
  });

  it("names a plugin's records by the plugin, and leaves the head bare without either", () => {
    expect(formatLogRecord({ level: 30, plugin: 'file-transfer', msg: 'receiving a file' })).toBe(
      'info  file-transfer: receiving a file\n',
    );
    expect(formatLogRecord({ level: 50, msg: 'shutting down' })).toBe('error shutting down\n');
  });

  it('quotes text with spaces, shows objects as JSON and an error by its message', () => {
    const line = formatLogRecord({
      level: 30,
      msg: 'x',
      reason: 'agent shutting down',
      mapped: { address: '127.0.0.1', port: 1 },
      err: { type: 'Error', message: 'boom happened', stack: 'Error: boom happened\n  at …' },
    });
    expect(line).toBe(
      'info  x  reason="agent shutting down"  mapped={"address":"127.0.0.1","port":1}  err="boom happened"\n',
    );
  });

  it('keeps control characters from a peer out of the terminal', () => {
    expect(formatLogRecord({ level: 40, msg: 'refused a\u001b]0;x\u0007', name: 'a\u001b[2Jb' })).toBe(
      'warn  refused a\\x1b]0;x\\x07\n',
    );
    expect(formatLogRecord({ level: 40, msg: 'refused', file: 'a\u001b[2Jb' })).toBe(
      'warn  refused  file="a\\u001b[2Jb"\n',
    );
  });
});

describe('formatLogLine', () => {
  it('formats a JSON record and passes anything else unchanged', () => {
    expect(formatLogLine('{"level":30,"msg":"hi"}\n')).toBe('info  hi\n');
    expect(formatLogLine('not json\n')).toBe('not json\n');
    expect(formatLogLine('[1,2]\n')).toBe('[1,2]\n');
  });
});
