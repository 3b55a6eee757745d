import type { Hook } from '@oclif/core';
import askDidYouMean from '@oclif/plugin-not-found';
import { disabledCommandError, unknownCommandError } from '../cli/command-errors.js';

/**
 * An unknown command. At a terminal, oclif's plugin-not-found asks "Did you mean …?" and runs the
 * answer; without one (scripts, CI) that plugin names no command, so the closest one is named here.
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const disabled = disabledCommandError(opts.config, opts.id);
  if (disabled) throw disabled;
  if (process.stdin.isTTY) return askDidYouMean.call(this, opts);
  throw unknownCommandError(opts.config, opts.id);
};
export default hook;
