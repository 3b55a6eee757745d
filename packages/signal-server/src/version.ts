import { createRequire } from 'node:module';

// The same relative path works from src/ (tests) and dist/ (built package).
const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

export const SERVER_VERSION: string = pkg.version;
