/** The checks of a POSTed batch (README.md "Sending notifications"): shape, then every field of every item. Pure, no database. */
import { describe, it, expect } from 'vitest';
import { AppError, Errno } from '../../src/server/domain/errors.ts';
import { validateBatch } from '../../src/server/domain/notifications/validate.ts';
import { MAX_ITEMS_PER_BATCH, MAX_LISTED_ERRORS, MAX_TEXT_CODE_POINTS, MAX_TTL_SECONDS } from '../../src/shared/limits.ts';

const UID = 'AAAAAAAAAAAAAAAAAAAAAA';
const item = (extra: Record<string, unknown> = {}) => ({ UID, message: 'hello', action: 'https://example.com/', ...extra });

/** The AppError validateBatch throws for `body` (fails the test if it accepts it). */
function refusal(body: unknown, schemes: readonly string[] = []): AppError {
  try {
    validateBatch(body, schemes);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error(`validateBatch accepted ${JSON.stringify(body).slice(0, 200)}`);
}

describe('validateBatch: shape', () => {
  it('treats a single object as a list of one', () => {
    expect(validateBatch(item(), [])).toEqual([{ uid: UID, message: 'hello', action: 'https://example.com/' }]);
  });

  it('returns a list in order, with ttl only when given', () => {
    const result = validateBatch([item({ message: 'a' }), item({ message: 'b', ttl: 60 })], []);
    expect(result).toEqual([
      { uid: UID, message: 'a', action: 'https://example.com/' },
      { uid: UID, message: 'b', action: 'https://example.com/', ttl: 60 },
    ]);
    expect('ttl' in (result[0] as object)).toBe(false);
  });

  it('accepts 1000 items and refuses 1001 with 106 (413)', () => {
    expect(
      validateBatch(
        Array.from({ length: MAX_ITEMS_PER_BATCH }, () => item()),
        [],
      ),
    ).toHaveLength(1000);
    const error = refusal(Array.from({ length: MAX_ITEMS_PER_BATCH + 1 }, () => item()));
    expect(error.errno).toBe(Errno.TooLarge);
    expect(error.status).toBe(413);
    expect(error.items).toBeUndefined();
    expect(error.message).toContain('1001');
  });

  it('checks the count before the items: 1001 bad items are still a 106', () => {
    expect(refusal(Array.from({ length: 1001 }, () => ({ nonsense: true }))).errno).toBe(106);
  });

  it.each([
    ['an empty list', []],
    ['null', null],
    ['a string', 'hello'],
    ['a number', 42],
    ['true', true],
  ])('refuses %s with 101', (_name, body) => {
    const error = refusal(body);
    expect(error.errno).toBe(Errno.NotNotifications);
    expect(error.status).toBe(400);
    expect(error.items).toBeUndefined();
  });

  it('refuses list elements that are not objects with 101, listing each, before looking at any field', () => {
    const error = refusal([item({ bogus: 1 }), 'text', null, [item()], item(), 7]);
    expect(error.errno).toBe(101);
    expect(error.items).toEqual([
      { index: 1, field: 'item', errno: 101, error: expect.any(String) },
      { index: 2, field: 'item', errno: 101, error: expect.any(String) },
      { index: 3, field: 'item', errno: 101, error: expect.any(String) },
      { index: 5, field: 'item', errno: 101, error: expect.any(String) },
    ]);
    expect(error.message).toMatch(/^item 1: .* \(and 3 more\)$/);
  });
});

describe('validateBatch: text fields', () => {
  const astral = '😀'; // one code point, two UTF-16 units

  it('counts code points: 512 astral characters pass, 513 do not', () => {
    expect(MAX_TEXT_CODE_POINTS).toBe(512);
    const action512 = `chat://${astral.repeat(512 - 'chat://'.length)}`;
    expect(validateBatch(item({ message: astral.repeat(512), action: action512 }), ['chat'])).toHaveLength(1);
    expect(validateBatch(item({ message: 'a'.repeat(512) }), [])).toHaveLength(1);

    const error = refusal([item({ message: astral.repeat(513) }), item({ action: `${action512}x` }), item({ message: 'a'.repeat(513) })], ['chat']);
    expect(error.errno).toBe(102);
    expect(error.items).toEqual([
      { index: 0, field: 'message', errno: 102, error: 'message is longer than 512 characters' },
      { index: 1, field: 'action', errno: 102, error: 'action is longer than 512 characters' },
      { index: 2, field: 'message', errno: 102, error: 'message is longer than 512 characters' },
    ]);
  });

  it.each([
    ['missing', undefined, 'message is required'],
    ['empty', '', 'message must not be empty'],
    ['a number', 5, 'message must be a string'],
    ['null', null, 'message must be a string'],
    ['an object', { text: 'hi' }, 'message must be a string'],
    ['a lone surrogate', 'bad \ud800 text', 'message is not storable text'],
    ['a reversed surrogate pair', '\udc00\ud800', 'message is not storable text'],
    ['NUL', 'nul\u0000byte', 'message is not storable text'],
  ])('refuses a message that is %s with 102', (_name, message, text) => {
    const body = item({ message });
    if (message === undefined) delete (body as Record<string, unknown>).message;
    const error = refusal(body);
    expect(error.errno).toBe(102);
    expect(error.items).toEqual([{ index: 0, field: 'message', errno: 102, error: text }]);
  });

  it('accepts control characters and emoji in a message (only the action must be a clean link)', () => {
    expect(validateBatch(item({ message: 'line 1\nline 2\t😀' }), [])).toHaveLength(1);
  });

  it('refuses a missing, empty or non-string UID with 102 (its existence is checked later)', () => {
    const noUid: Record<string, unknown> = item();
    delete noUid.UID;
    const error = refusal([noUid, item({ UID: '' }), item({ UID: 42 }), item({ UID: 'malformed but a string' })]);
    expect(error.items).toEqual([
      { index: 0, field: 'UID', errno: 102, error: 'UID is required' },
      { index: 1, field: 'UID', errno: 102, error: 'UID must be a non-empty string' },
      { index: 2, field: 'UID', errno: 102, error: 'UID must be a non-empty string' },
    ]);
  });

  it('checks an action as text (102) before as a link (104)', () => {
    const error = refusal([item({ action: '' }), item({ action: 7 }), item({ action: 'https://example.com/\u0000' }), item({ action: 'ftp://example.com/' })]);
    expect(error.items).toEqual([
      { index: 0, field: 'action', errno: 102, error: 'action must not be empty' },
      { index: 1, field: 'action', errno: 102, error: 'action must be a string' },
      { index: 2, field: 'action', errno: 102, error: 'action is not storable text' },
      { index: 3, field: 'action', errno: 104, error: 'scheme "ftp:" is not registered for this app' },
    ]);
  });

  it('refuses actions that are not allowed with 104, using the app’s schemes', () => {
    const error = refusal(
      [
        item({ action: 'http:foo' }),
        item({ action: 'https://' }),
        item({ action: 'javascript:alert(1)' }),
        item({ action: 'demo://x' }),
        item({ action: 'CHAT://ok' }),
      ],
      ['chat', 'javascript'],
    );
    expect(error.errno).toBe(104);
    expect(error.status).toBe(400);
    expect(error.items?.map((e) => [e.index, e.field, e.errno])).toEqual([
      [0, 'action', 104],
      [1, 'action', 104],
      [2, 'action', 104],
      [3, 'action', 104],
    ]);
    expect(error.items?.[2]?.error).toBe('scheme "javascript:" is never allowed');
  });
});

describe('validateBatch: ttl', () => {
  it.each([1, 60, MAX_TTL_SECONDS])('accepts %d', (ttl) => {
    expect(MAX_TTL_SECONDS).toBe(2_592_000);
    expect(validateBatch(item({ ttl }), [])).toEqual([{ uid: UID, message: 'hello', action: 'https://example.com/', ttl }]);
  });

  it.each([0, -1, 2_592_001, 1.5, '60', null, true, Number.NaN, Number.POSITIVE_INFINITY, 1e300])('refuses %j with 102', (ttl) => {
    const error = refusal(item({ ttl }));
    expect(error.errno).toBe(102);
    expect(error.items).toEqual([{ index: 0, field: 'ttl', errno: 102, error: expect.stringMatching(/^ttl must be/) }]);
  });
});

describe('validateBatch: unknown fields', () => {
  it('refuses every unknown field by name with 103, hinting at the right one', () => {
    const error = refusal(item({ url: 'https://example.com/', Message: 'x', colour: 'red' }));
    expect(error.errno).toBe(103);
    expect(error.items).toEqual([
      { index: 0, field: 'url', errno: 103, error: 'unknown field "url": did you mean "action"?' },
      { index: 0, field: 'Message', errno: 103, error: 'unknown field "Message": did you mean "message"?' },
      { index: 0, field: 'colour', errno: 103, error: 'unknown field "colour"' },
    ]);
  });

  it('hints "action" for url even when action is missing, and reports both', () => {
    const error = refusal({ UID, message: 'hello', url: 'https://example.com/' });
    expect(error.items).toEqual([
      { index: 0, field: 'url', errno: 103, error: 'unknown field "url": did you mean "action"?' },
      { index: 0, field: 'action', errno: 102, error: 'action is required' },
    ]);
    expect(error.message).toBe('item 0: unknown field "url": did you mean "action"? (and 1 more)');
  });

  it('hints "UID" for uid', () => {
    const error = refusal({ uid: UID, message: 'hello', action: 'https://example.com/' });
    expect(error.items?.[0]).toEqual({ index: 0, field: 'uid', errno: 103, error: 'unknown field "uid": did you mean "UID"?' });
  });
});

describe('validateBatch: item-level refusals', () => {
  it('lists every offending field of every item, the lowest index’s errno on top', () => {
    const batch = [
      item(),
      item({ action: 'vbscript:msgbox(1)' }), // 104
      item(),
      item({ link: 'x', message: '', ttl: 0 }), // 103, 102, 102
      item({ UID: 1 }), // 102
    ];
    const error = refusal(batch, ['chat']);
    expect(error).toBeInstanceOf(AppError);
    expect(error.errno).toBe(104);
    expect(error.status).toBe(400);
    expect(error.message).toBe('item 1: scheme "vbscript:" is never allowed (and 4 more)');
    expect(error.items).toEqual([
      { index: 1, field: 'action', errno: 104, error: 'scheme "vbscript:" is never allowed' },
      { index: 3, field: 'link', errno: 103, error: 'unknown field "link": did you mean "action"?' },
      { index: 3, field: 'message', errno: 102, error: 'message must not be empty' },
      { index: 3, field: 'ttl', errno: 102, error: expect.stringMatching(/^ttl must be from 1 to 2592000 seconds/) },
      { index: 4, field: 'UID', errno: 102, error: 'UID must be a non-empty string' },
    ]);
    expect(error.toBody()).toEqual({ result: 'KO', errno: 104, error: error.message, errors: error.items });
  });

  it('reports the errno of the lowest index, not the most common or the first kind checked', () => {
    const error = refusal([item({ extra: 1 }), item({ message: '' }), item({ message: '' })]);
    expect(error.errno).toBe(103);
    expect(error.message).toMatch(/^item 0: unknown field "extra" \(and 2 more\)$/);
  });

  it('finds offending items anywhere in a batch of 1000', () => {
    const batch = Array.from({ length: 1000 }, () => item());
    batch[999] = item({ action: 'file:///etc/passwd' });
    batch[500] = item({ ttl: '60' });
    const error = refusal(batch);
    expect(error.errno).toBe(102);
    expect(error.items?.map((e) => [e.index, e.field, e.errno])).toEqual([
      [500, 'ttl', 102],
      [999, 'action', 104],
    ]);
  });

  it('forItems sorts by index and keeps the order of fields within an item', () => {
    const error = AppError.forItems([
      { index: 2, field: 'b', errno: 102, error: 'two' },
      { index: 0, field: 'x', errno: 104, error: 'zero-x' },
      { index: 0, field: 'y', errno: 103, error: 'zero-y' },
    ]);
    expect(error.errno).toBe(104);
    expect(error.message).toBe('item 0: zero-x (and 2 more)');
    expect(error.items?.map((e) => `${e.index}${e.field}`)).toEqual(['0x', '0y', '2b']);
    expect(() => AppError.forItems([])).toThrow();
  });
});

describe('validateBatch: hostile bodies', () => {
  it('gives no hint drawn from Object.prototype to fields named __proto__, constructor, toString or hasOwnProperty', () => {
    // JSON.parse makes "__proto__" an own field, as a client's body would.
    const body = JSON.parse(
      `{"UID":"${UID}","message":"m","action":"https://example.com/","__proto__":1,"constructor":2,"toString":3,"hasOwnProperty":4,"valueOf":5}`,
    );
    const error = refusal(body);
    expect(error.items).toEqual(
      ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'].map((field) => ({
        index: 0,
        field,
        errno: 103,
        error: `unknown field "${field}"`,
      })),
    );
    expect(JSON.stringify(error.toBody())).not.toMatch(/object Object|function|native code/);
  });

  it('lists at most 100 errors and counts the rest, for 20,000 unknown fields in one item', () => {
    const body: Record<string, unknown> = item();
    for (let n = 0; n < 20_000; n++) body[`f${n}`] = 0;
    const error = refusal(body);
    expect(error.items).toHaveLength(MAX_LISTED_ERRORS);
    expect(error.items?.[99]).toEqual({ index: 0, field: 'f99', errno: 103, error: 'unknown field "f99"' });
    expect(error.itemsOmitted).toBe(20_000 - MAX_LISTED_ERRORS);
    expect(error.message).toBe('item 0: unknown field "f0" (and 19999 more)');
    const refusalBody = error.toBody();
    expect(refusalBody.errors_omitted).toBe(19_900);
    expect(JSON.stringify(refusalBody).length).toBeLessThan(16 * 1024);
  });

  it('lists the 100 lowest-indexed errors of a batch of 1000 bad items, the lowest index’s errno on top', () => {
    // Three errors per item: an unknown field (103, checked first), an empty message (102), an unregistered scheme (104).
    const batch = Array.from({ length: 1000 }, (_, n) => item({ message: '', action: 'ftp://example.com/', extra: n }));
    const error = refusal(batch);
    expect(error.errno).toBe(103);
    expect(error.items).toHaveLength(100);
    expect(error.items?.at(-1)?.index).toBe(33);
    expect(error.itemsOmitted).toBe(3000 - 100);
    expect(error.toBody()).toMatchObject({ errors_omitted: 2900 });
  });

  it('shortens a very long unknown field name in the refusal', () => {
    const error = refusal(item({ ['k'.repeat(100_000)]: 1 }));
    expect(error.items?.[0]?.field).toBe(`${'k'.repeat(64)}…`);
    expect(JSON.stringify(error.toBody()).length).toBeLessThan(1024);
  });

  it('keeps a refusal with few errors as it was: no errors_omitted', () => {
    expect(refusal(item({ extra: 1 })).toBody()).not.toHaveProperty('errors_omitted');
  });
});
