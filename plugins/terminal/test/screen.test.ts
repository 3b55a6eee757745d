import { describe, expect, it } from 'vitest';
// The screen model runs its worker from the build (a worker thread loads JavaScript).
import { ScreenModel } from '../dist/screen.js';

describe('ScreenModel', () => {
  it('a snapshot is the screen after exactly the output written before it', async () => {
    const model = new ScreenModel({ cols: 20, rows: 4 });
    try {
      model.write(Buffer.from('\x1b[31mred\x1b[0m line\r\n'));
      // A UTF-8 character split across two writes stays whole.
      const euro = Buffer.from('€');
      model.write(euro.subarray(0, 2));
      const first = model.snapshot();
      model.write(euro.subarray(2));
      model.write(Buffer.from(' later'));
      const second = await model.snapshot();
      expect((await first).text.split('\r\n')[0]).toBe('red line');
      expect((await first).text).not.toContain('later');
      expect(second.text.split('\r\n').slice(0, 2)).toEqual(['red line', '€ later']);
      expect(second.data).toContain('\x1b[31m');
      model.resize(30, 5);
      expect(await model.snapshot()).toMatchObject({ cols: 30, rows: 5 });
      expect(model.backlog).toBe(0);
    } finally {
      await model.close();
    }
  });

  it('holds output back up to holdBytes, then hands it on; snapshots still see all of it', async () => {
    const model = new ScreenModel({ cols: 20, rows: 4, holdBytes: 1000 });
    try {
      for (let i = 0; i < 300; i++) model.write(Buffer.from(`\r\nline ${i}`));
      // Past the bound, the held output went to the worker: what remains held is under it.
      expect(model.backlog).toBeGreaterThan(0);
      const snapshot = await model.snapshot();
      expect(snapshot.text.split('\r\n').at(-1)).toBe('line 299');
      expect(model.backlog).toBe(0);
    } finally {
      await model.close();
    }
  });
});
