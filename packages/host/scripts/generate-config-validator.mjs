// Compiles a config schema to an ES module with ajv's standalone code generation, with the
// options validate.ts uses, so a command that checks config loads no ajv and compiles nothing.
//   node generate-config-validator.mjs <schema module> <export name> <output module>
// Paths are relative to the working directory: the package being built. The host uses it for its
// own schema; a plugin for the module it names in package.json#meshAgent.config, writing the file
// package.json#meshAgent.configValidator names.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { AJV_OPTIONS } from '../dist/config/validate.js';

const [schemaModule, exportName, output] = process.argv.slice(2);
if (!schemaModule || !exportName || !output) {
  console.error('usage: generate-config-validator.mjs <schema module> <export name> <output module>');
  process.exit(2);
}
const schema = (await import(pathToFileURL(resolve(schemaModule)).href))[exportName];
if (typeof schema !== 'object' || schema === null) {
  console.error(`${schemaModule} exports no schema named ${exportName}`);
  process.exit(1);
}
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
const code = standaloneCode.default(ajv, ajv.compile(schema));
// Even as ESM, the code require()s ajv's runtime helpers (string length by code points), which
// the host depends on: resolve them from there, so a plugin needs no ajv of its own.
const header =
  "import { createRequire } from 'node:module';\n" +
  "const require = createRequire(import.meta.resolve('@mesh-agent/host/package.json'));\n";
// The schema rides along (as JSON), so a command that reads config loads this one module and not
// the schema's own, with whatever that imports.
const schemaExport = `\nexport const ${exportName} = ${JSON.stringify(schema)};\n`;
writeFileSync(resolve(output), header + code + schemaExport);
