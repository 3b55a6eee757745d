import { type Hook, toConfiguredId } from '@oclif/core';
import askDidYouMean from '@oclif/plugin-not-found';
import { closest } from 'fastest-levenshtein';
import { disabledPluginWithCommand } from '../cli/plugin-filter.js';

/**
 * An unknown command. At a terminal, oclif's plugin-not-found asks "Did you mean …?" and runs the
 * answer; without one (scripts, CI) that plugin names no command, so the closest one is named here.
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const { config } = opts;
  const disabled = disabledPluginWithCommand(config, opts.id);
  if (disabled)
    this.error(
      `${toConfiguredId(opts.id, config)} belongs to the ${disabled} plugin, which the config turns off. ` +
        `Turn it on with: ${config.bin} config set plugins.${disabled}.enabled true`,
      { exit: 127 },
    );
  if (process.stdin.isTTY) return askDidYouMean.call(this, opts);
  const hidden = new Set(config.commands.filter((c) => c.hidden).map((c) => c.id));
  const known = [...config.commandIDs, ...config.commands.flatMap((c) => c.aliases)].filter(
    (id) => !hidden.has(id),
  );
  this.error(
    `${toConfiguredId(opts.id, config)} is not a ${config.bin} command. ` +
      `Did you mean ${toConfiguredId(closest(opts.id, known), config)}? ` +
      `Run ${config.bin} help for a list of available commands.`,
    { exit: 127 },
  );
};
export default hook;
