/**
 * Text for the terminal. Messages, app names and actions come from apps and
 * operators: an escape sequence in them would drive the user's terminal (set
 * its title, write the clipboard with OSC 52, hide text), a newline would
 * forge a line, and a bidi override would reorder what is read.
 */

/**
 * Characters a terminal acts on rather than shows: C0 controls (newline and
 * tab too), DEL, C1 controls (8-bit CSI, OSC), bidi marks, embeddings,
 * overrides and isolates, and the line and paragraph separators.
 */
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with every terminal control replaced by a visible JSON-style escape
 * (`\n`, `\u001b`, `\u202e`). Inside a JSON string those escapes stand for the
 * same characters, so a JSON line stays valid JSON and parses to the same value.
 */
export function forTerminal(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (char) => SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
