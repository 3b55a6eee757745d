import { Help } from '@oclif/core';
import { disabledCommandError } from './disabled-command.js';

/**
 * oclif's help, except that asking for the help of a command whose plugin the config turns off
 * says so and how to turn it on, instead of "command not found".
 */
export default class MeshHelp extends Help {
  override async showHelp(argv: string[]): Promise<void> {
    const words = argv.filter((arg) => !arg.startsWith('-'));
    // The longest id the words spell that is a disabled plugin's command (topics join with ':').
    for (let n = words.length; n > 0; n--) {
      const id = words.slice(0, n).join(':');
      if (this.config.findCommand(id) || this.config.findTopic(id)) break;
      const disabled = disabledCommandError(this.config, id);
      if (disabled) throw disabled;
    }
    await super.showHelp(argv);
  }
}
