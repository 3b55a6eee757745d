import type { Hook } from '@oclif/core';
import { provideHostToUserPlugins } from '../cli/plugin-filter.js';

/** After `plugins install` (whose npm run prunes the links), make the host importable again from the data directory. */
const hook: Hook<'plugins:postinstall'> = async function () {
  await provideHostToUserPlugins(this.config, true);
};
export default hook;
