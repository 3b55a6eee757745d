import { MeshCommand } from '../../cli/base-command.js';
import { UsageError } from '../../cli/errors.js';
import { schemaProblems } from '../../config/validate.js';

export default class ConfigValidate extends MeshCommand<typeof ConfigValidate> {
  static override summary = 'Check the config; exit 2 naming each failing path and rule.';
  static override description =
    "Also checks each enabled plugin's config schema against JSON Schema, which other commands skip.";
  static override examples = [
    '<%= config.bin %> config validate',
    '<%= config.bin %> config validate --config ./mesh-agent.config.yaml',
  ];
  static override enableJsonFlag = true;

  async run(): Promise<{ valid: true; file: string }> {
    const agent = await this.loadAgent();
    const broken = agent.plugins.flatMap((plugin) => {
      const problems = plugin.configSchema && schemaProblems(plugin.configSchema);
      return problems
        ? [`plugin ${plugin.name}: its config schema is not valid JSON Schema: ${problems}`]
        : [];
    });
    if (broken.length > 0) throw new UsageError(broken.join('\n'));
    this.log(`${agent.filepath}: valid`);
    return { valid: true, file: agent.filepath };
  }
}
