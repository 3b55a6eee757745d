import { describe, expect, it } from 'vitest';
import { FAILURE_CODES as FILE_CODES } from '../../file-transfer/src/protocol.js';
import { FAILURE_CODES as FOLDER_CODES } from '../../folder-zip/src/protocol.js';
import { failureReason } from '../src/failure-reasons.js';

describe('failure reasons in plain words', () => {
  it('has a sentence for every code file-transfer and folder-zip send, and for a dropped connection', () => {
    for (const code of [...FILE_CODES, ...FOLDER_CODES, 'CONNECTION_LOST']) {
      const reason = failureReason(code);
      expect(reason, code).not.toContain(code);
      expect(reason, code).toMatch(/^[a-z]/);
    }
  });

  it('names a code it does not know rather than inventing a reason', () => {
    expect(failureReason('SOMETHING_NEW')).toBe('it failed (SOMETHING_NEW)');
  });
});
