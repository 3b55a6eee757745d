import { describe, expect, it } from 'vitest';
import { configSchema as fileTransfer } from '../../../../plugins/file-transfer/src/config.js';
import { configSchema as folderZip } from '../../../../plugins/folder-zip/src/config.js';
import { configSchema as gotify } from '../../../../plugins/notifications-gotify/src/config.js';
import { configSchema as terminal } from '../../../../plugins/terminal/src/config.js';
import { hostConfigSchema } from '../../src/config/schema.js';
import { schemaProblems } from '../../src/config/validate.js';

// Commands skip the meta-schema check for speed; `config validate` runs it, and so does this test
// for every schema this repository ships.
describe('schemaProblems', () => {
  it.each([
    ['host', hostConfigSchema],
    ['file-transfer', fileTransfer],
    ['folder-zip', folderZip],
    ['notifications-gotify', gotify],
    ['terminal', terminal],
  ])('finds nothing wrong with the %s schema', (_name, schema) => {
    expect(schemaProblems(schema)).toBeUndefined();
  });

  it('names what is wrong with a schema that is not JSON Schema', () => {
    expect(schemaProblems({ type: 'object', properties: { port: { type: 'integr' } } })).toMatch(
      /schema\/properties\/port\/type/,
    );
    expect(schemaProblems({ type: 'object', required: 'port' })).toMatch(/required must be array/);
  });
});
