// Compiles the host's config schema to an ES module with ajv's standalone code generation, next
// to the built sources (dist/config/host-config-validator.js), with the options validate.ts uses.
import { writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { hostConfigSchema } from '../dist/config/schema.js';
import { AJV_OPTIONS } from '../dist/config/validate.js';

const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
const code = standaloneCode.default(ajv, ajv.compile(hostConfigSchema));
// Even as ESM, the code require()s ajv's runtime helpers (string length by code points).
const header =
  "import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n";
writeFileSync(new URL('../dist/config/host-config-validator.js', import.meta.url), header + code);
