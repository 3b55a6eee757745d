import { Help } from '@oclif/core';
import { disabledCommandError, unknownCommandError } from './command-errors.js';

/**
 * oclif's help, except for a subject that is no command: a command whose plugin the config turns
 * off says so and how to turn it on, and an unknown one names the closest command, as running it
 * would (instead of oclif's "command not found").
 */
export default class MeshHelp extends Help {
  override async showHelp(argv: string[]): Promise<void> {
    const words = argv.filter((arg) => !arg.startsWith('-'));
    // The longest id the words spell (topics join with ':') that is a command or topic, if any.
    for (let n = words.length; n > 0; n--) {
      const id = words.slice(0, n).join(':');
      if (this.config.findCommand(id) || this.config.findTopic(id)) return super.showHelp(argv);
      const disabled = disabledCommandError(this.config, id);
      if (disabled) throw disabled;
    }
    if (words.length > 0) throw unknownCommandError(this.config, words[0] as string);
    await super.showHelp(argv);
  }
}
