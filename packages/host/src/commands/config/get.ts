import { Args } from '@oclif/core';
import { installedPluginSchemas } from '../../cli/agent-config.js';
import { MeshCommand } from '../../cli/base-command.js';
import { UsageError } from '../../cli/errors.js';
import { configLine, redactedValue } from '../../cli/print-config-value.js';
import { ConfigPathError, parseKeyPath, schemaAt } from '../../config/key-path.js';
import { getPath } from '../../config/tree.js';

export default class ConfigGet extends MeshCommand<typeof ConfigGet> {
  static override summary = 'Print one value of the effective config (secrets redacted); exit 1 when unset.';
  static override description =
    'The same layers as `config`: defaults < config file < MESH_AGENT_* variables < flags.';
  static override examples = [
    '<%= config.bin %> config get signaling.url',
    '<%= config.bin %> config get plugins.file-transfer --json',
  ];
  static override enableJsonFlag = true;
  static override args = {
    path: Args.string({ description: 'dotted config path, e.g. signaling.url', required: true }),
  };

  async run(): Promise<{ path: string; value: unknown }> {
    let path: string[];
    try {
      path = parseKeyPath(this.args.path);
      schemaAt(path, await installedPluginSchemas(this.config, []));
    } catch (error) {
      if (error instanceof ConfigPathError) throw new UsageError(error.message);
      throw error;
    }
    const agent = await this.loadAgent({}, 'schemas');
    const value = getPath(agent.config as unknown as Record<string, unknown>, path);
    if (value === undefined) this.error(`${this.args.path} is not set`, { exit: 1 });
    this.log(configLine(path, value));
    return { path: this.args.path, value: redactedValue(path, value) };
  }
}
