import { MeshCommand } from '../../cli/base-command.js';

export default class ConfigValidate extends MeshCommand<typeof ConfigValidate> {
  static override summary = 'Check the config; exit 2 naming each failing path and rule.';
  static override examples = [
    '<%= config.bin %> config validate',
    '<%= config.bin %> config validate --config ./mesh-agent.config.yaml',
  ];
  static override enableJsonFlag = true;

  async run(): Promise<{ valid: true; file: string }> {
    const agent = await this.loadAgent();
    this.log(`${agent.filepath}: valid`);
    return { valid: true, file: agent.filepath };
  }
}
