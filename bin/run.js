#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { placeUserPlugins, sayPluginLoadFailures, withoutDisabledPlugins } from '@mesh-agent/host/cli';
import { Config, flush, handle, run, settings } from '@oclif/core';

// NODE_ENV=development or test, set in a user's shell for their own projects (or by a test runner),
// makes oclif treat every plugin as one being developed: it looks for TypeScript to compile the
// plugin's sources and warns "Could not find typescript" (or about a linked ESM plugin) on each
// command. mesh-agent and the plugins it installs or links run compiled JavaScript, so oclif never
// transpiles anything; NODE_ENV itself is left for the plugins and the programs they run.
settings.enableAutoTranspile = false;

// Keep V8's young generation at its size after start-up instead of letting it grow to 16 MB per
// semi-space: the agent's garbage is short-lived, and a grown young generation was the largest
// part of a receiving agent's peak RSS above its baseline (4 GiB file: 153 -> 144 MB, same speed).
setFlagsFromString('--semi-space-growth-factor=1');

// A reader that stops early (`mesh-agent --help | head`) closes the pipe. Node ignores SIGPIPE,
// so without this the CLI would wait on output nobody reads; end as a Unix tool killed by SIGPIPE.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(141);
});

sayPluginLoadFailures();
const argv = process.argv.slice(2);
try {
  // Plugins from `plugins install` live in their own folder, not in the agent home; it links the host there.
  await placeUserPlugins();
  const config = await withoutDisabledPlugins(await Config.load(import.meta.url), argv);
  await run(argv, config);
  await flush();
} catch (error) {
  // What fails outside a command (an unknown or disabled command, a bad help subject) reads like
  // a command's failure: in words, with what to do.
  const { asksForJson, reportFailure } = await import('@mesh-agent/host/cli/report-failure');
  await handle(await reportFailure(error, { json: asksForJson(argv) }));
}
