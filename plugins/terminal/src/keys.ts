/** Ctrl-]: the prefix of every mesh-agent key sequence (as telnet's escape key). */
export const PREFIX = 0x1d;

export interface KeyScan {
  /** Bytes for the terminal. */
  forward: Buffer;
  /** Command keys typed after the prefix, in order (e.g. 'd'). */
  commands: string[];
}

/**
 * Splits typed bytes into bytes for the terminal and `Ctrl-] <key>` commands. The state
 * survives chunk boundaries; `Ctrl-] Ctrl-]` sends one Ctrl-] through.
 */
export class KeySequenceScanner {
  private afterPrefix = false;

  scan(input: Buffer): KeyScan {
    if (!this.afterPrefix && !input.includes(PREFIX)) return { forward: input, commands: [] };
    const forward: number[] = [];
    const commands: string[] = [];
    for (const byte of input) {
      if (this.afterPrefix) {
        this.afterPrefix = false;
        if (byte === PREFIX) forward.push(PREFIX);
        else commands.push(String.fromCharCode(byte));
      } else if (byte === PREFIX) {
        this.afterPrefix = true;
      } else {
        forward.push(byte);
      }
    }
    return { forward: Buffer.from(forward), commands };
  }
}
