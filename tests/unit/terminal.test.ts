import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forTerminal } from '../../src/daemon/terminal.ts';

const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('forTerminal', () => {
  it('leaves no terminal control character in any text, and a JSON line made safe parses to the same value (generated, fixed seed)', () => {
    const text = fc.string({
      unit: fc.oneof(fc.constantFrom('\u001b', '\n', '\u009b', '\u202e', '\u2028', '\u007f'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
    });
    fc.assert(
      fc.property(text, (value) => {
        expect(forTerminal(value)).not.toMatch(TERMINAL_CONTROLS);
        const line = forTerminal(JSON.stringify({ message: value }));
        expect(JSON.parse(line)).toEqual({ message: value });
      }),
      { seed: 20_261_201, numRuns: 2_000 },
    );
  });

  it('shows what it replaced', () => {
    expect(forTerminal('a\nb\tc\u001b]0;x\u0007 \u202eevil')).toBe('a\\nb\\tc\\u001b]0;x\\u0007 \\u202eevil');
    expect(forTerminal('plain text, ünïcödé, 日本語 😀')).toBe('plain text, ünïcödé, 日本語 😀');
  });
});
