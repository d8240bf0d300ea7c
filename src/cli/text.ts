/**
 * Text from the input (flag values, config.json names, driver messages) on its way to a
 * terminal. A terminal acts on more than C0 controls: C1 controls (U+0080–U+009F; U+009B is a
 * one-character CSI that starts an escape sequence on many terminals) and the Unicode bidi
 * controls (U+202A–U+202E, U+2066–U+2069, the "Trojan Source" reorderings, CVE-2021-42574)
 * change what the rest of a line looks like. All of them are shown as escapes instead.
 */

/**
 * C0 (but tab, newline and the CR of a CRLF line end, which CSV output uses), DEL, C1, the bidi embeddings, overrides and isolates, the
 * left-to-right/right-to-left marks, and the line and paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\r(?!\n)/g;

/**
 * C0 as \xNN (JSON.stringify has escaped them already in JSON output), the rest (DEL too) as
 * \uNNNN, which inside a JSON string is the same character to a JSON reader.
 */
function escape(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `s` with every control that could steer the terminal escaped; tabs, newlines and CRLF stay. The
 * CLI's own stdout and stderr go through it, so no output path can forget it.
 */
export function printable(s: string): string {
  return s.replace(UNSAFE, escape);
}

/**
 * One printable line of at most 500 characters: newlines folded, every other control shown
 * escaped (printable()).
 */
export function oneLine(s: string): string {
  const t = printable(s.replace(/\s*\n\s*/g, ' ').replace(/\t/g, ' ')).trim();
  return t.length > 500 ? `${t.slice(0, 499)}…` : t;
}

