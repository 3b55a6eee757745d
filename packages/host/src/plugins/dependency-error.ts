import { ConfigError } from '../config/errors.js';

/** A plugin whose `dependsOn` cannot be met: the config must change, so it is a ConfigError (exit 2). */
export class PluginDependencyError extends ConfigError {
  constructor(
    readonly plugin: string,
    message: string,
  ) {
    super('(plugins)', [{ path: `/plugins/${plugin}`, rule: 'dependsOn', message }]);
    this.name = 'PluginDependencyError';
  }
}
