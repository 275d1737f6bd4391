/** The structure limits checked on a body's bytes before JSON.parse sees them: nesting and the number of values. Pure. */
import { describe, it, expect } from 'vitest';
import { MAX_JSON_DEPTH, MAX_JSON_VALUES, jsonStructureRefusal } from '../../src/server/http/body.ts';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const item = '{"UID":"AAAAAAAAAAAAAAAAAAAAAA","message":"hello","action":"https://example.com/","ttl":60}';

describe('jsonStructureRefusal', () => {
  it('accepts a full batch of 1000 notifications, and small bodies', () => {
    expect(jsonStructureRefusal(bytes(`[${Array(1000).fill(item).join(',')}]`))).toBeNull();
    expect(jsonStructureRefusal(bytes(item))).toBeNull();
    expect(jsonStructureRefusal(bytes('[]'))).toBeNull();
    expect(jsonStructureRefusal(bytes(''))).toBeNull();
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels, in a list or in a field, and accepts ${MAX_JSON_DEPTH}`, () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(jsonStructureRefusal(bytes(nested(MAX_JSON_DEPTH)))).toBeNull();
    expect(jsonStructureRefusal(bytes(nested(MAX_JSON_DEPTH + 1)))).toBe(`body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(jsonStructureRefusal(bytes(`[{"UID":"x","message":${'{"a":'.repeat(20)}1${'}'.repeat(20)}}]`))).toMatch(/nested deeper/);
    // Unbalanced or not JSON at all: still refused before anything parses it.
    expect(jsonStructureRefusal(bytes('['.repeat(1_000_000)))).toMatch(/nested deeper/);
  });

  it(`refuses more than ${MAX_JSON_VALUES} list elements and object fields in all`, () => {
    expect(
      jsonStructureRefusal(
        bytes(
          `[${Array(MAX_JSON_VALUES - 1)
            .fill('0')
            .join(',')}]`,
        ),
      ),
    ).toBeNull();
    const refusal = `body has more than ${MAX_JSON_VALUES} values (list elements and object fields)`;
    expect(
      jsonStructureRefusal(
        bytes(
          `[${Array(MAX_JSON_VALUES + 1)
            .fill('0')
            .join(',')}]`,
        ),
      ),
    ).toBe(refusal);
    const fields = Array.from({ length: MAX_JSON_VALUES + 1 }, (_, n) => `"f${n}":0`).join(',');
    expect(jsonStructureRefusal(bytes(`{${fields}}`))).toBe(refusal);
    expect(
      jsonStructureRefusal(
        bytes(
          `[${Array(MAX_JSON_VALUES + 1)
            .fill('{}')
            .join(',')}]`,
        ),
      ),
    ).toBe(refusal);
  });

  it('counts nothing inside strings: brackets, commas and escaped quotes in texts are text', () => {
    const text = JSON.stringify(`[[[[[[[[[[[[[[[[[[[[ ,,,,,,,,,,,,,,,, \\" \\\\" {{{{{{{{{{{{{{{{{{{{{{{{{ ${','.repeat(MAX_JSON_VALUES + 5)}`);
    expect(jsonStructureRefusal(bytes(`[{"UID":"x","message":${text},"action":${text}}]`))).toBeNull();
    // A backslash before a closing quote that is itself escaped ends the string there.
    expect(jsonStructureRefusal(bytes(`["\\\\",${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}]`))).toMatch(/nested deeper/);
  });

  it('is not fooled by UTF-8: multi-byte characters never look like structure', () => {
    const text = JSON.stringify('😀中é'.repeat(10_000));
    expect(jsonStructureRefusal(bytes(`[{"message":${text}}]`))).toBeNull();
  });
});
