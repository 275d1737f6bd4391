import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findJsonSyntaxError } from '../../src/daemon/jsonSyntax.ts';

describe('findJsonSyntaxError', () => {
  it('agrees with JSON.parse on what is valid JSON (generated texts, fixed seed)', () => {
    // Valid texts, random strings, and valid texts with one character dropped.
    const dropped = fc.json().chain((json) => fc.nat(Math.max(0, json.length - 1)).map((at) => json.slice(0, at) + json.slice(at + 1)));
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string(), dropped), (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(findJsonSyntaxError(text) === null).toBe(valid);
      }),
      { seed: 20_261_201, numRuns: 2_000 },
    );
  });

  it('names the line, column and what was found where the text first breaks', () => {
    expect(findJsonSyntaxError('{\n  "a": 1\n  "b": 2\n}')).toEqual({ line: 3, column: 3, problem: 'expected "," or "}" but found "\\""' });
    expect(findJsonSyntaxError('{"a": [1, 2,]}')).toEqual({ line: 1, column: 13, problem: 'expected a value but found "]"' });
    expect(findJsonSyntaxError('{"a": tru}')).toEqual({ line: 1, column: 7, problem: 'expected a value but found "t"' });
    expect(findJsonSyntaxError('{"ä€": "x"\n')).toEqual({ line: 2, column: 1, problem: 'unexpected end of file' });
    expect(findJsonSyntaxError('{} {}')).toEqual({ line: 1, column: 4, problem: 'expected end of file but found "{"' });
    expect(findJsonSyntaxError('{"a": "line\nbreak"}')).toEqual({ line: 1, column: 12, problem: 'expected a string character or "\\"" but found "\\n"' });
    expect(findJsonSyntaxError('')).toEqual({ line: 1, column: 1, problem: 'unexpected end of file' });
  });
});
