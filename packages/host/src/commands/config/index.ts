import { MeshCommand } from '../../cli/base-command.js';
import { redactSecrets } from '../../log/redact.js';
import { LOCAL_SIGNAL_URL } from '../../signaling/constants.js';

export default class ConfigShow extends MeshCommand<typeof ConfigShow> {
  static override summary = 'Print the effective, validated config (secrets redacted).';
  static override description =
    'Layers, later wins: built-in defaults < config file < environment variables (MESH_AGENT_*) < command-line flags. ' +
    "Plugin sections (plugins.<name>) are validated against each enabled plugin's schema.";
  static override examples = [
    '<%= config.bin %> config',
    '<%= config.bin %> config --config ./mesh-agent.config.toml --json',
    `MESH_AGENT_SERVER=${LOCAL_SIGNAL_URL} <%= config.bin %> config --json`,
  ];
  static override enableJsonFlag = true;

  async run(): Promise<{ file: string; home: string; plugins: string[]; config: unknown }> {
    const agent = await this.loadAgent({}, 'schemas');
    const result = {
      file: agent.filepath,
      home: agent.home,
      plugins: agent.pluginNames,
      config: redactSecrets(agent.config),
    };
    this.log(
      `# file: ${result.file}\n# home: ${result.home}\n# plugins: ${result.plugins.join(', ') || '(none)'}`,
    );
    this.log(JSON.stringify(result.config, null, 2));
    return result;
  }
}
