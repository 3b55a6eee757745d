import { type Interfaces, toConfiguredId } from '@oclif/core';
import { closest } from 'fastest-levenshtein';
import { findPluginPackages } from '../plugins/discover.js';
import { MeshError } from './errors.js';
import { withAllInstalled } from './plugin-filter.js';

/**
 * When `id` (oclif's form, topics joined by ':') is a command of a plugin the config turns off:
 * the failure that says so and how to turn it on (exit 127, as for an unknown command). Kept out
 * of plugin-filter.ts, which every command loads at start: these are needed only on a failure or help.
 */
export function disabledCommandError(oclif: Interfaces.Config, id: string): MeshError | undefined {
  const all = withAllInstalled(oclif);
  if (all === oclif) return undefined;
  const owner = all.findCommand(id)?.pluginName;
  const plugin = findPluginPackages(all.plugins.values()).find((pkg) => pkg.packageName === owner)?.name;
  if (!plugin) return undefined;
  return new MeshError(
    'plugin_disabled',
    `${toConfiguredId(id, oclif)} belongs to the ${plugin} plugin, which the config turns off`,
    `turn it on with: ${oclif.bin} config set plugins.${plugin}.enabled true`,
    127,
  );
}

/** `id` names no command: the closest one instead (exit 127, as a shell's "command not found"). */
export function unknownCommandError(oclif: Interfaces.Config, id: string): MeshError {
  const hidden = new Set(oclif.commands.filter((c) => c.hidden).map((c) => c.id));
  const known = [...oclif.commandIDs, ...oclif.commands.flatMap((c) => c.aliases)].filter(
    (command) => !hidden.has(command),
  );
  return new MeshError(
    'unknown_command',
    `${toConfiguredId(id, oclif)} is not a ${oclif.bin} command`,
    `did you mean ${toConfiguredId(closest(id, known), oclif)}? ${oclif.bin} help lists every command`,
    127,
  );
}
