import { Args, Errors } from '@oclif/core';
import { MeshCommand } from '../../cli/base-command.js';
import { editUserConfig } from '../../cli/user-config.js';

export default class ConfigUnset extends MeshCommand<typeof ConfigUnset> {
  static override summary = 'Remove one value from the user config file (the default applies again).';
  static override description =
    'Edits the file config set writes (the user config file, or --config FILE); the rest of the file is kept ' +
    '(comments are not: a file with comments is copied to FILE.bak first) and it must stay valid.';
  static override examples = ['<%= config.bin %> config unset signaling.token'];
  static override enableJsonFlag = true;
  static override args = {
    path: Args.string({ description: 'dotted config path, e.g. signaling.url', required: true }),
  };

  async run(): Promise<{ file: string; path: string; removed: boolean }> {
    const edit = await editUserConfig(
      this.config,
      { env: process.env, configFlag: this.flags.config },
      this.args.path,
    );
    for (const warning of edit.warnings) Errors.warn(warning);
    this.log(
      edit.changed
        ? `removed ${this.args.path} from ${edit.file}`
        : `${this.args.path} was not set in ${edit.file}`,
    );
    return { file: edit.file, path: this.args.path, removed: edit.changed };
  }
}
