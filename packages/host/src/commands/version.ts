import { Flags } from '@oclif/core';
import { ExplainedCommand } from '../cli/explained-command.js';

interface VersionOutput {
  /** `mesh-agent/<version> <platform>-<arch> node-<version>`, as in bug reports. */
  cliVersion: string;
  version: string;
  architecture: string;
  nodeVersion: string;
  plugins: Array<{ name: string; version: string; type: string }>;
}

export default class Version extends ExplainedCommand {
  static override summary = 'Print the version of mesh-agent, Node.js and the platform (for bug reports).';
  static override description =
    'One line: mesh-agent/<version> <platform>-<arch> node-<version>. --verbose adds every loaded plugin with its ' +
    'version and kind (core: shipped with the CLI; user: added with `mesh-agent plugins install`); --json prints ' +
    'it all as one object.';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --verbose'];
  static override enableJsonFlag = true;
  static override flags = {
    verbose: Flags.boolean({ summary: 'Also list every loaded plugin with its version.' }),
  };

  async run(): Promise<VersionOutput> {
    const { flags } = await this.parse(Version);
    const plugins = [...this.config.plugins.values()]
      .filter((plugin) => plugin.name !== this.config.name)
      .map((plugin) => ({ name: plugin.name, version: plugin.version, type: plugin.type }))
      .sort((a, b) => a.name.localeCompare(b.name));
    this.log(this.config.userAgent);
    if (flags.verbose)
      for (const plugin of plugins) this.log(`  ${plugin.name} ${plugin.version} (${plugin.type})`);
    return {
      cliVersion: this.config.userAgent,
      version: this.config.version,
      architecture: `${this.config.platform}-${this.config.arch}`,
      nodeVersion: process.version,
      plugins,
    };
  }
}
