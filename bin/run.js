#!/usr/bin/env node
import { provideHostToUserPlugins, withoutDisabledPlugins } from '@mesh-agent/host/cli';
import { Config, flush, handle, run } from '@oclif/core';

const argv = process.argv.slice(2);
try {
  const config = await withoutDisabledPlugins(await Config.load(import.meta.url), argv);
  await provideHostToUserPlugins(config);
  await run(argv, config);
  await flush();
} catch (error) {
  await handle(error);
}
