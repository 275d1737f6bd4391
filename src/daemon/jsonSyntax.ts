/**
 * Where a JSON text first breaks, for an error message a person can act on:
 * V8's JSON.parse messages give an offset only for some errors, and quote a
 * piece of the text (which may hold a token) for others.
 */

export interface JsonSyntaxError {
  /** 1-based. */
  line: number;
  /** 1-based, in characters (code points). */
  column: number;
  /** What is wrong there, e.g. `expected "," or "}" but found "]"`. */
  problem: string;
}

class Broken extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING_CHARS = /(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y;

/** Checks JSON syntax (RFC 8259) and throws Broken at the first error. */
class Scanner {
  private at = 0;

  constructor(private readonly text: string) {}

  document(): void {
    this.value();
    this.space();
    if (this.at < this.text.length) this.fail('end of file');
  }

  private found(): string {
    const char = this.text.codePointAt(this.at);
    return char === undefined ? 'end of file' : JSON.stringify(String.fromCodePoint(char));
  }

  private fail(expected: string): never {
    const found = this.found();
    throw new Broken(this.at, found === 'end of file' && expected !== 'end of file' ? 'unexpected end of file' : `expected ${expected} but found ${found}`);
  }

  private space(): void {
    while (/[ \t\n\r]/.test(this.text[this.at] ?? '')) this.at++;
  }

  private take(char: string): boolean {
    this.space();
    if (this.text[this.at] !== char) return false;
    this.at++;
    return true;
  }

  private value(): void {
    this.space();
    const char = this.text[this.at];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return this.string();
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.at)) {
        this.at += literal.length;
        return;
      }
    }
    NUMBER.lastIndex = this.at;
    if (NUMBER.test(this.text)) {
      this.at = NUMBER.lastIndex;
      return;
    }
    this.fail('a value');
  }

  private string(): void {
    this.at++; // the opening quote
    STRING_CHARS.lastIndex = this.at;
    STRING_CHARS.test(this.text);
    this.at = STRING_CHARS.lastIndex;
    if (this.text[this.at] !== '"') this.fail('a string character or "\\""');
    this.at++;
  }

  private object(): void {
    this.at++;
    if (this.take('}')) return;
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail('a property name in double quotes');
      this.string();
      if (!this.take(':')) this.fail('":"');
      this.value();
      if (this.take('}')) return;
      if (!this.take(',')) this.fail('"," or "}"');
    }
  }

  private array(): void {
    this.at++;
    if (this.take(']')) return;
    for (;;) {
      this.value();
      if (this.take(']')) return;
      if (!this.take(',')) this.fail('"," or "]"');
    }
  }
}

/** The first syntax error in `text`, or null if it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  try {
    new Scanner(text).document();
    return null;
  } catch (error) {
    if (!(error instanceof Broken)) throw error;
    const before = text.slice(0, error.offset).split('\n');
    const line = before.length;
    const column = [...(before.at(-1) ?? '')].length + 1;
    return { line, column, problem: error.problem };
  }
}
