/**
 * C0 and C1 controls, DEL, and the bidirectional overrides and isolates (which reorder what
 * follows them on screen). Any of them from a peer could move the cursor, retitle the window or
 * hide text in the owner's terminal.
 */
const UNSAFE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;

const escaped = (char: string): string => {
  const code = char.codePointAt(0) as number;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * Text from a peer (a reason, a name, a saved path, a quoted header) made safe to print: every
 * control character is shown as an escape (`\x1b`), so it reads the same and does nothing.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, escaped);
}
