import { type Hook, toConfiguredId } from '@oclif/core';
import askDidYouMean from '@oclif/plugin-not-found';
import { closest } from 'fastest-levenshtein';
import { disabledCommandError } from '../cli/disabled-command.js';
import { MeshError } from '../cli/errors.js';

/**
 * An unknown command. At a terminal, oclif's plugin-not-found asks "Did you mean …?" and runs the
 * answer; without one (scripts, CI) that plugin names no command, so the closest one is named here.
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const { config } = opts;
  const disabled = disabledCommandError(config, opts.id);
  if (disabled) throw disabled;
  if (process.stdin.isTTY) return askDidYouMean.call(this, opts);
  const hidden = new Set(config.commands.filter((c) => c.hidden).map((c) => c.id));
  const known = [...config.commandIDs, ...config.commands.flatMap((c) => c.aliases)].filter(
    (id) => !hidden.has(id),
  );
  throw new MeshError(
    'unknown_command',
    `${toConfiguredId(opts.id, config)} is not a ${config.bin} command`,
    `did you mean ${toConfiguredId(closest(opts.id, known), config)}? ${config.bin} help lists every command`,
    127,
  );
};
export default hook;
