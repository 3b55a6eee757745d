import { Args, Errors } from '@oclif/core';
import { MeshCommand } from '../../cli/base-command.js';
import { configLine, redactedValue } from '../../cli/print-config-value.js';
import { editUserConfig } from '../../cli/user-config.js';
import { LOCAL_SIGNAL_URL } from '../../signaling/constants.js';

export default class ConfigSet extends MeshCommand<typeof ConfigSet> {
  static override summary =
    'Write one value to the user config file (~/.config/mesh-agent/config.toml), or to --config FILE.';
  static override description =
    'The file is the one the config search reads from $XDG_CONFIG_HOME/mesh-agent (else ~/.config/mesh-agent): ' +
    'an existing config.toml or config.json there, or a new config.toml. With --config (or MESH_AGENT_CONFIG) it ' +
    'is that file, created if missing (TOML or JSON by its extension). VALUE is read as the type the schema gives ' +
    'the path: a number, true/false, a JSON array or object, else text. The whole file is validated (host and plugin ' +
    'schemas) before it is replaced atomically with mode 0600; other values are kept, comments are not (a file with comments ' +
    'is copied to FILE.bak first). Secrets print redacted.';
  static override examples = [
    `<%= config.bin %> config set signaling.url ${LOCAL_SIGNAL_URL}`,
    '<%= config.bin %> config set signaling.token "$(cat token.txt)"',
    '<%= config.bin %> config set plugins.notifications-gotify.url https://push.example.com',
    '<%= config.bin %> config set nat.stunServers \'["stun.example.org:3478"]\'',
    '<%= config.bin %> config set --config ./team.toml signaling.room team',
  ];
  static override enableJsonFlag = true;
  static override args = {
    path: Args.string({ description: 'dotted config path, e.g. signaling.url', required: true }),
    value: Args.string({ description: 'the value', required: true }),
  };

  async run(): Promise<{ file: string; path: string; value: unknown }> {
    const edit = await editUserConfig(
      this.config,
      { env: process.env, configFlag: this.flags.config },
      this.args.path,
      this.args.value,
    );
    for (const warning of edit.warnings) Errors.warn(warning);
    this.log(`${configLine(edit.path, edit.value)}  (${edit.file})`);
    return { file: edit.file, path: this.args.path, value: redactedValue(edit.path, edit.value) };
  }
}
