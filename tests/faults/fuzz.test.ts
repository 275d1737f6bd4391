/**
 * Property-based fuzzing (fast-check, fixed seeds) of what clients send:
 *
 * - the REST route, with a valid key and near-valid raw bodies: every answer
 *   is JSON, OK or KO with a documented errno/status pair, never 5xx; the
 *   verdict agrees with an independent reading of README.md ("Sending notifications"); a
 *   KO changes no queue and an OK changes exactly the queues it names;
 * - the daemon channel, with raw WebSocket frames on an authenticated
 *   connection: the server never answers INTERNAL_SERVER_ERROR to bad input,
 *   answers every well-formed call, never touches another user's queue, and
 *   still serves a normal POST and subscription afterwards.
 *
 * Runs one in-process node whose log lines are captured, so an internal error
 * logged but not answered is caught too. Failures print the seed.
 */
import http from 'node:http';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/server/platform/config.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import { httpStatus, type Errno } from '../../src/server/domain/errors.ts';
import { startPresence, type PresenceNode } from '../../src/server/server.ts';
import { grantUid, revokeUid } from '../../src/server/domain/uids.ts';
import { connectChannel } from '../support/daemonClient.ts';
import { makeApp, makeDaemonUser, makeUser, queueItems, testDatabase } from '../support/factories.ts';
import { rawRequest, withSeed } from '../support/faultTools.ts';
import { postNotifications } from '../support/node.ts';

const MAX_BYTES = 2 * 1024 * 1024;
const MAX_TTL = 30 * 24 * 3600;
const DOCUMENTED_ERRNOS = new Set([100, 101, 102, 103, 104, 105, 106, 107, 108, 110, 111, 120, 129, 150, 199]);

let node: PresenceNode;
let db: Database;
/** Log lines of the node that mean something went wrong inside it. */
const problems: string[] = [];
/**
 * Protocol errors of a client's socket (invalid UTF-8 in a text frame, a frame
 * over 1 MiB) that the channel logs as "channel error" too: noise, counted apart.
 */
let socketProtocolErrors = 0;

// The app under fuzz (deep-link scheme "chat"), its UIDs, and UIDs it must not be able to use.
let app: { appid: string; key: string };
let otherApp: { appid: string; key: string };
let ownUids: string[];
let otherAppUid: string;
let revokedUid: string;
let watchedUids: string[];

beforeAll(async () => {
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        // Errors and worse, and the channel's report of an INTERNAL_SERVER_ERROR.
        if (/channel error in \(connection\): (Invalid WebSocket frame|Max payload size exceeded)/.test(line)) socketProtocolErrors++;
        else if (/"level":(50|60)/.test(line) || line.includes('channel error')) problems.push(line);
      },
    },
  );
  const config = loadConfig({
    DATABASE_URL: inject('databaseUrl'),
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_SECOND: '0',
  });
  node = await startPresence(config, { web: false, logger });
  db = testDatabase();

  app = await makeApp(db, { schemes: ['chat'] });
  otherApp = await makeApp(db);
  ownUids = [];
  for (let i = 0; i < 3; i++) {
    const { userId } = await makeUser(db);
    ownUids.push((await grantUid(db, { appid: app.appid, userId })).uid);
  }
  const { userId: otherUser } = await makeUser(db);
  otherAppUid = (await grantUid(db, { appid: otherApp.appid, userId: otherUser })).uid;
  const { userId: revokedUser } = await makeUser(db);
  revokedUid = (await grantUid(db, { appid: app.appid, userId: revokedUser })).uid;
  await revokeUid(db, revokedUid);
  watchedUids = [...ownUids, otherAppUid];
  // Something in every queue, so that a refusal that deleted anything would show.
  for (const uid of ownUids)
    expect((await postNotifications(node.url, app.appid, app.key, { UID: uid, message: 'seed', action: 'https://example.com/' })).status).toBe(200);
  expect((await postNotifications(node.url, otherApp.appid, otherApp.key, { UID: otherAppUid, message: 'seed', action: 'https://example.com/' })).status).toBe(
    200,
  );
}, 60_000);

afterAll(async () => {
  agent.destroy();
  await db?.close();
  await node?.close();
});

// ---------------------------------------------------------------------------
// Raw JSON text

/** How a string becomes JSON text: JSON.stringify, or every non-ASCII code unit as a \u escape (lone surrogates included). */
type StringStyle = 'plain' | 'escaped';

function encodeString(value: string, style: StringStyle): string {
  if (style === 'plain') return JSON.stringify(value);
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    const char = value[i] as string;
    out += unit < 0x20 || unit > 0x7e || char === '"' || char === '\\' ? `\\u${unit.toString(16).padStart(4, '0')}` : char;
  }
  return `${out}"`;
}

/** `arb` with probability `p`, else undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, p: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: Math.round((1 - p) * 1000), arbitrary: fc.constant(undefined) }, { weight: Math.round(p * 1000), arbitrary: arb });

const blank = fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n ');
const stringStyle = fc.constantFrom<StringStyle>('plain', 'plain', 'escaped');
const jsonString = (values: fc.Arbitrary<string>) => fc.tuple(values, stringStyle).map(([value, style]) => encodeString(value, style));

/** Strings of exactly `n` code points built from `chars` (each one code point). */
const codePoints = (n: number, chars: string[]) => fc.array(fc.constantFrom(...chars), { minLength: n, maxLength: n }).map((a) => a.join(''));

const boundaryText = fc.oneof(
  ...[0, 1, 511, 512, 513].map((n) => codePoints(n, ['a', 'é', '😀', '中', '\u0301', '\u{10FFFF}', '𝄞'])),
  fc.constantFrom(0, 1, 511, 512, 513).map((n) => '😀'.repeat(n)),
);

const oddText = fc.oneof(
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'a\udfff',
    '\udc00\ud800',
    '\ud83d\ude00',
    '\u202e gnp.exe',
    '\ufeff',
    '\ufffe\uffff',
    '\u{10FFFF}',
    '\u2028\u2029',
    ' ',
    '\t',
    'ﷺ',
    'e\u0301\u0301\u0301',
    'x'.repeat(100_000),
    '😀'.repeat(100_000),
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
);

const messageText = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }) },
  { weight: 2, arbitrary: boundaryText },
  { weight: 2, arbitrary: oddText },
);

/** Actions with a verdict known from README.md (`action` and "Refused schemes"), for an app that registered `chat`. */
const ACTIONS: Record<string, 'ok' | 104> = {
  'https://example.com/': 'ok',
  'http://example.com/path?q=1#frag': 'ok',
  'https://xn--bcher-kva.example/ü': 'ok',
  'https://127.0.0.1:8443/x': 'ok',
  'chat://room/42': 'ok',
  'chat:room': 'ok',
  'javascript:alert(1)': 104,
  'JavaScript:alert(1)': 104,
  'data:text/html,<b>hi</b>': 104,
  'file:///etc/passwd': 104,
  'vbscript:msgbox(1)': 104,
  'blob:https://example.com/1': 104,
  'ftp://example.com/': 104,
  'mailto:someone@example.com': 104,
  'http:foo': 104,
  'https:foo': 104,
  'https:/foo': 104,
  'https://': 104,
  'http:///path': 104,
  'https://exa mple.com/': 104,
  'https://example.com/\u0000x': 104,
  '//example.com/': 104,
  'example.com': 104,
  ':chat': 104,
  'other://room/1': 104,
};
const longUrl = (n: number) => `https://example.com/${'a'.repeat(n - 'https://example.com/'.length)}`;
for (const n of [511, 512]) ACTIONS[longUrl(n)] = 'ok';

const actionText = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...Object.keys(ACTIONS)) },
  { weight: 1, arbitrary: fc.constantFrom('', longUrl(513), 'https://example.com/\ud800', 'https://example.com/😀'.padEnd(600, 'b')) },
  // Verdict unknown (README.md leaves odd characters in a URL open): only the shape of the answer is checked.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `https://example.com/${s}`) },
  { weight: 1, arbitrary: oddText },
);

/** Number texts: JSON.parse decides what they mean (1e400 is Infinity, 1.0 is 1). */
const numberText = fc.oneof(
  fc.constantFrom(
    '0',
    '-0',
    '1',
    '1.0',
    '1.5',
    '-1',
    '60',
    `${MAX_TTL}`,
    `${MAX_TTL + 1}`,
    `${MAX_TTL}.0000000001`,
    '1e400',
    '-1e400',
    '1e21',
    '1E3',
    '9007199254740993',
    '123456789012345678901234567890',
    '0.0000001',
    '2147483648',
    '-2147483649',
  ),
  fc.integer({ min: -10, max: MAX_TTL + 10 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);

const scalarText = fc.oneof(fc.constantFrom('true', 'false', 'null'), numberText, jsonString(fc.string({ maxLength: 8 })));

/** Any JSON value (as text), small and shallow, for wrong types and extra fields. */
const anyValueText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarText,
    fc.array(tie('value'), { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
    fc
      .array(fc.tuple(jsonString(fc.constantFrom('a', 'UID', 'message', '')), tie('value')), { maxLength: 3 })
      .map((e) => `{${e.map(([k, v]) => `${k}:${v}`).join(',')}}`),
  ),
})).value;

const deepText = fc.constantFrom(10, 1_000, 50_000).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`);

const uidText = () =>
  fc.oneof(
    { weight: 20, arbitrary: jsonString(fc.constantFrom(...ownUids)) },
    {
      weight: 2,
      arbitrary: jsonString(
        fc.constantFrom(otherAppUid, revokedUid, ownUids[0]!.toUpperCase(), `${ownUids[0]} `, 'A'.repeat(22), 'a'.repeat(5000), '', '\u0000', '\ud800'),
      ),
    },
    { weight: 1, arbitrary: jsonString(fc.string({ maxLength: 30 })) },
    { weight: 1, arbitrary: anyValueText },
  );

const fieldValue = (strings: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 12, arbitrary: jsonString(strings) }, { weight: 1, arbitrary: anyValueText }, { weight: 1, arbitrary: deepText });

const ttlText = fc.oneof({ weight: 3, arbitrary: numberText }, { weight: 1, arbitrary: anyValueText });

/** Extra keys: misspellings, the first draft's `url`, prototype names, odd Unicode. */
const extraKey = fc.oneof(
  fc.constantFrom(
    'url',
    'URL',
    'uid',
    'Uid',
    'msg',
    'Message',
    'text',
    'body',
    'link',
    'ttl ',
    'TTL',
    'expires',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    '',
    '\u0000',
    'UID\u200b',
    'ＵＩＤ',
  ),
  fc.string({ maxLength: 10 }),
);

/** One item as JSON text: known fields (maybe missing, maybe wrong, maybe given twice), extra ones, any order. */
const fuzzyItemText = () =>
  fc
    .record({
      uid: fc.option(uidText(), { nil: undefined, freq: 15 }),
      message: fc.option(fieldValue(messageText), { nil: undefined, freq: 15 }),
      action: fc.option(fieldValue(actionText), { nil: undefined, freq: 15 }),
      ttl: sometimes(ttlText, 0.25),
      extras: fc.oneof(
        { weight: 8, arbitrary: fc.constant<[string, string][]>([]) },
        { weight: 1, arbitrary: fc.array(fc.tuple(extraKey, anyValueText), { minLength: 1, maxLength: 3 }) },
      ),
      // Duplicate keys: JSON.parse keeps the last one.
      duplicate: sometimes(fc.tuple(fc.constantFrom('UID', 'message', 'action', 'ttl'), anyValueText), 0.1),
      keyStyle: stringStyle,
      order: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
      spaces: fc.tuple(blank, blank),
    })
    .map(({ uid, message, action, ttl, extras, duplicate, keyStyle, order, spaces }) => {
      const entries: [string, string][] = [];
      if (uid !== undefined) entries.push(['UID', uid]);
      if (message !== undefined) entries.push(['message', message]);
      if (action !== undefined) entries.push(['action', action]);
      if (ttl !== undefined) entries.push(['ttl', ttl]);
      for (const [k, v] of extras as [string, string][]) entries.push([k, v]);
      const sorted = entries
        .map((e, i) => ({ e, k: order[i % order.length]! + i / 100 }))
        .sort((a, b) => a.k - b.k)
        .map(({ e }) => e);
      if (duplicate) sorted.splice(order[0]! % (sorted.length + 1), 0, duplicate);
      return `{${spaces[0]}${sorted.map(([k, v]) => `${encodeString(k, keyStyle)}${spaces[1]}:${v}`).join(`,${spaces[1]}`)}${spaces[0]}}`;
    });

/** Valid message texts, boundaries and odd-but-storable Unicode included. */
const validMessage = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom(1, 511, 512).chain((n) => codePoints(n, ['a', 'é', '😀', '中', '\u0301', '\u{10FFFF}', '𝄞'])) },
  { weight: 1, arbitrary: fc.constantFrom('\u202e gnp.exe', '\ufeff', '\ufffe\uffff', '\u2028', 'e\u0301\u0301', '\t', ' ', '"\\', '</script>') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }) },
);

/** An item that passes every check: own UID, valid texts, maybe a valid ttl, keys maybe escaped or given twice (the last one valid). */
const cleanItemText = () =>
  fc
    .record({
      uid: fc.constantFrom(...ownUids),
      message: validMessage,
      action: fc.constantFrom(...Object.keys(ACTIONS).filter((a) => ACTIONS[a] === 'ok')),
      ttl: sometimes(fc.oneof(fc.integer({ min: 600, max: MAX_TTL }).map(String), fc.constantFrom(`${MAX_TTL}`, `${MAX_TTL}.0`, '600', '6e2', '1200.0')), 0.3),
      earlier: sometimes(fc.tuple(fc.constantFrom('UID', 'message', 'action'), anyValueText), 0.15),
      styles: fc.tuple(stringStyle, stringStyle, stringStyle),
      reversed: fc.boolean(),
    })
    .map(({ uid, message, action, ttl, earlier, styles, reversed }) => {
      const entries: [string, string][] = [
        ['UID', encodeString(uid, styles[0])],
        ['message', encodeString(message, styles[1])],
        ['action', encodeString(action, styles[2])],
      ];
      if (ttl !== undefined) entries.push(['ttl', ttl]);
      if (reversed) entries.reverse();
      if (earlier) entries.unshift(earlier);
      return `{${entries.map(([k, v]) => `${encodeString(k, styles[0])}:${v}`).join(',')}}`;
    });

const itemText = () => fc.oneof(cleanItemText(), fuzzyItemText());

/** A body as bytes, and a label for the failure report. */
interface Body {
  kind: string;
  bytes: Buffer;
}
const text =
  (kind: string) =>
  (t: string): Body => ({ kind, bytes: Buffer.from(t, 'utf8') });

const validItem = () => `{"UID":${JSON.stringify(ownUids[0])},"message":"m","action":"https://example.com/"}`;

const bodyArb = (): fc.Arbitrary<Body> =>
  fc.oneof(
    { weight: 200, arbitrary: itemText().map(text('object')) },
    {
      weight: 400,
      arbitrary: fc
        .array(itemText(), { minLength: 1, maxLength: 5 })
        .map((items) => `[${items.join(',')}]`)
        .map(text('list')),
    },
    { weight: 20, arbitrary: fc.constantFrom('[]', ' [ ] ', '[ ]\n').map(text('empty list')) },
    { weight: 30, arbitrary: fc.oneof(scalarText, fc.constant('{}'), fc.constant('[{}]')).map(text('not a notification')) },
    {
      weight: 30,
      arbitrary: itemText()
        .chain((item) => fc.constantFrom(`[[${item}]]`, `[${item},[${item}]]`, `[1,${item}]`, `[${item},null]`, `[${item},"x"]`, `[[]]`))
        .map(text('nested lists')),
    },
    {
      weight: 50,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            '',
            ' ',
            '{',
            '[',
            '[{}',
            '{"UID":}',
            "{'UID':'x'}",
            '[1,]',
            '{"a":1,}',
            'NaN',
            'Infinity',
            '[-]',
            '01',
            '"\\x"',
            '"\\ud8"',
            '{"a":1}//',
            '/*x*/[]',
            '\u00a0[]',
            '[]]',
            'nul',
            'tru',
            '"abc',
            '"a\u0001"',
            '{"UID" "x"}',
            '\ufeff\ufeff[]',
          ),
          itemText().chain((t) => fc.nat({ max: Math.max(0, t.length - 1) }).map((n) => t.slice(0, n))),
        )
        .map(text('invalid JSON')),
    },
    {
      weight: 20,
      arbitrary: fc
        .tuple(fc.constantFrom(10, 1_000, 100_000), fc.constantFrom('list', 'field', 'object', 'unbalanced'))
        .map(([d, where]) => {
          if (where === 'list') return `${'['.repeat(d)}${validItem()}${']'.repeat(d)}`;
          if (where === 'field') return `{"UID":${JSON.stringify(ownUids[0])},"message":${'['.repeat(d)}${']'.repeat(d)},"action":"https://example.com/"}`;
          if (where === 'object')
            return `{"UID":${JSON.stringify(ownUids[0])},"message":"m","action":"https://example.com/","x":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`;
          return `${'['.repeat(d)}${']'.repeat(d - 1)}`;
        })
        .map(text('deep nesting')),
    },
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.constantFrom(999, 1_000, 1_001, 5_000), fc.boolean())
        .map(
          ([n, oneBad]) =>
            `[${Array.from({ length: n }, (_, i) => (oneBad && i === n - 1 ? '{"UID":1}' : `{"UID":${JSON.stringify(ownUids[i % ownUids.length])},"message":"bulk ${i}","action":"https://example.com/"}`)).join(',')}]`,
        )
        .map(text('many items')),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(MAX_BYTES, MAX_BYTES + 1).map((size): Body => {
        const head = `[${validItem()}`;
        return { kind: `${size} bytes`, bytes: Buffer.from(`${head}${' '.repeat(size - head.length - 1)}]`, 'utf8') };
      }),
    },
    {
      weight: 20,
      arbitrary: fc
        .tuple(fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80]), fc.constantFrom('message', 'key'))
        .map(([bad, where]): Body => {
          const [a, b] =
            where === 'message' ? [`[{"UID":${JSON.stringify(ownUids[0])},"message":"x`, `y","action":"https://example.com/"}]`] : ['[{"', `":1}]`];
          return { kind: 'invalid UTF-8', bytes: Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]) };
        }),
    },
  );

type Auth = { kind: 'valid' } | { kind: 'none' } | { kind: 'header'; value: string; errno: 110 | 111 };
const authArb = (): fc.Arbitrary<Auth> =>
  fc.oneof(
    { weight: 95, arbitrary: fc.constant<Auth>({ kind: 'valid' }) },
    {
      weight: 5,
      arbitrary: fc.constantFrom<Auth>(
        { kind: 'none' },
        { kind: 'header', value: 'Basic dXNlcjpwYXNz', errno: 110 },
        { kind: 'header', value: 'Bearer', errno: 110 },
        { kind: 'header', value: 'Bearer prs_app_not-a-key', errno: 111 },
        { kind: 'header', value: 'OTHER', errno: 111 },
      ),
    },
  );

/** Content types: accepted, refused (107), or left open by README.md (either). */
const CONTENT_TYPES: Record<string, 'json' | 107 | 'either'> = {
  'application/json': 'json',
  'application/json; charset=utf-8': 'json',
  'application/json;charset=UTF-8': 'json',
  'text/plain': 107,
  'text/html': 107,
  'application/x-www-form-urlencoded': 107,
  'multipart/form-data; boundary=x': 107,
  'application/xml': 107,
  'application/jsonx': 107,
  'application/octet-stream': 107,
  json: 107,
  'application/vnd.api+json': 'either',
  'application/problem+json': 'either',
  'APPLICATION/JSON': 'either',
  'text/json': 'either',
};
const contentTypeArb = fc.oneof(
  { weight: 90, arbitrary: fc.constant<string | null>('application/json') },
  { weight: 10, arbitrary: fc.constantFrom<string | null>(null, ...Object.keys(CONTENT_TYPES)) },
);

interface RestRequest {
  auth: Auth;
  contentType: string | null;
  body: Body;
}

const restRequestArb = (): fc.Arbitrary<RestRequest> => fc.record({ auth: authArb(), contentType: contentTypeArb, body: bodyArb() });

// ---------------------------------------------------------------------------
// The oracle: README.md's checks ("Sending notifications"), in its order, written independently of src/.

interface FieldError {
  field: string;
  errno: number;
  /** False when README.md leaves the verdict open (the item may pass this check). */
  definite: boolean;
}

type Expectation =
  | { stage: 'refused'; errno: number }
  | { stage: 'either'; errno: number; otherwise: Expectation }
  | { stage: 'shape'; indices: number[] }
  | { stage: 'items'; errors: Map<number, FieldError[]>; otherwise: Expectation }
  | { stage: 'uids'; unknown: number[] }
  | { stage: 'ok'; items: { uid: string; ttl?: number }[] };

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function codePointCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function textErrors(field: string, value: unknown): FieldError[] {
  const bad = (): FieldError[] => [{ field, errno: 102, definite: true }];
  if (typeof value !== 'string') return bad();
  const n = codePointCount(value);
  if (n < 1 || n > 512 || !value.isWellFormed() || value.includes('\u0000')) return bad();
  return [];
}

function itemErrors(item: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of Object.keys(item)) if (!['UID', 'message', 'action', 'ttl', 'tag'].includes(key)) errors.push({ field: key, errno: 103, definite: true });
  if (typeof item.UID !== 'string' || item.UID === '') errors.push({ field: 'UID', errno: 102, definite: true });
  errors.push(...textErrors('message', item.message));
  const actionText = textErrors('action', item.action);
  if (actionText.length > 0) errors.push(...actionText);
  else {
    const verdict = ACTIONS[item.action as string];
    if (verdict === 104) errors.push({ field: 'action', errno: 104, definite: true });
    else if (verdict === undefined) errors.push({ field: 'action', errno: 104, definite: false });
  }
  if ('ttl' in item && Object.hasOwn(item, 'ttl')) {
    const ttl = item.ttl;
    if (ttl === null) errors.push({ field: 'ttl', errno: 102, definite: false });
    else if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) errors.push({ field: 'ttl', errno: 102, definite: true });
  }
  // README: a tag is 1 to 64 of A–Z a–z 0–9 . _ : -
  if (Object.hasOwn(item, 'tag') && !(typeof item.tag === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(item.tag))) {
    errors.push({ field: 'tag', errno: 102, definite: item.tag !== null });
  }
  return errors;
}

function expectation(request: RestRequest): Expectation {
  if (request.auth.kind === 'none') return { stage: 'refused', errno: 110 };
  if (request.auth.kind === 'header') return { stage: 'refused', errno: request.auth.errno };
  const typeVerdict = request.contentType === null ? 107 : CONTENT_TYPES[request.contentType];
  if (typeVerdict === 107) return { stage: 'refused', errno: 107 };
  const rest = afterContentType(request.body.bytes);
  return typeVerdict === 'either' ? { stage: 'either', errno: 107, otherwise: rest } : rest;
}

/**
 * The deepest nesting and the number of list elements and object fields in a
 * body, counted outside strings (README "Sending notifications": at most 16
 * and 10,000, checked before the JSON is parsed, malformed or not).
 */
function structureOf(bytes: Buffer): { depth: number; values: number } {
  let depth = 0;
  let deepest = 0;
  let values = 0;
  let inString = false;
  let escaped = false;
  let afterOpen = false;
  for (const byte of bytes) {
    const c = String.fromCharCode(byte);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (' \t\r\n'.includes(c)) continue;
    if (afterOpen && c !== ']' && c !== '}') values++;
    afterOpen = false;
    if (c === '"') inString = true;
    else if (c === ',') values++;
    else if (c === '[' || c === '{') {
      deepest = Math.max(deepest, ++depth);
      afterOpen = true;
    } else if (c === ']' || c === '}') depth--;
  }
  return { depth: deepest, values };
}

function afterContentType(bytes: Buffer): Expectation {
  if (bytes.length > MAX_BYTES) return { stage: 'refused', errno: 106 };
  const structure = structureOf(bytes);
  if (structure.depth > 16 || structure.values > 10_000) return { stage: 'refused', errno: 106 };
  let parsed: unknown;
  try {
    // UTF-8, strictly; a byte order mark is not JSON.
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { stage: 'either', errno: 100, otherwise: { stage: 'refused', errno: 100 } };
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { stage: 'refused', errno: 100 };
  }
  const items = Array.isArray(parsed) ? parsed : isPlainObject(parsed) ? [parsed] : null;
  if (items === null || items.length === 0) return { stage: 'refused', errno: 101 };
  if (items.length > 1000) return { stage: 'refused', errno: 106 };
  const notObjects = items.flatMap((item, i) => (isPlainObject(item) ? [] : [i]));
  if (notObjects.length > 0) return { stage: 'shape', indices: notObjects };
  const errors = new Map<number, FieldError[]>();
  (items as Record<string, unknown>[]).forEach((item, i) => {
    const found = itemErrors(item);
    if (found.length > 0) errors.set(i, found);
  });
  const uidStage = (): Expectation => {
    const unknown = (items as Record<string, unknown>[]).flatMap((item, i) => (ownUids.includes(item.UID as string) ? [] : [i]));
    if (unknown.length > 0) return { stage: 'uids', unknown };
    return {
      stage: 'ok',
      items: (items as Record<string, unknown>[]).map((item) => ({ uid: item.UID as string, ...(typeof item.ttl === 'number' ? { ttl: item.ttl } : {}) })),
    };
  };
  return errors.size > 0 ? { stage: 'items', errors, otherwise: uidStage() } : uidStage();
}

// ---------------------------------------------------------------------------
// Queue snapshots

interface QueueState {
  size: number;
  ids: string[];
  expiring: number;
}
type Snapshot = Map<string, QueueState>;

async function snapshot(): Promise<Snapshot> {
  const { rows } = await db.pool.query<{ uid: string; size: number; ids: string[]; expiring: number }>(
    `SELECT q.uid, q.size,
            coalesce((SELECT array_agg(i.id::text ORDER BY i.id) FROM queue_items i WHERE i.uid = q.uid), '{}') AS ids,
            (SELECT count(*) FROM queue_items i WHERE i.uid = q.uid AND i.expires_at IS NOT NULL)::int AS expiring
       FROM queues q WHERE q.uid = ANY($1::text[])`,
    [watchedUids],
  );
  return new Map(rows.map((r) => [r.uid, { size: r.size, ids: r.ids, expiring: r.expiring }]));
}

/** Keeps queues small and free of items that could expire (the node's sweep would change them between snapshots). */
async function tidy(state: Snapshot): Promise<boolean> {
  const untidy = [...state].filter(([, q]) => q.expiring > 0 || q.size > 60).map(([uid]) => uid);
  if (untidy.length === 0) return false;
  await db.pool.query(
    `WITH keep AS (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY uid ORDER BY id) AS n FROM queue_items WHERE uid = ANY($1::text[]) AND expires_at IS NULL) k WHERE n <= 5)
     DELETE FROM queue_items WHERE uid = ANY($1::text[]) AND id NOT IN (SELECT id FROM keep)`,
    [untidy],
  );
  await db.pool.query(`UPDATE queues q SET size = (SELECT count(*) FROM queue_items i WHERE i.uid = q.uid) WHERE q.uid = ANY($1::text[])`, [untidy]);
  return true;
}

// ---------------------------------------------------------------------------
// Checking one answer

interface Answer {
  status: number;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

function describeRequest(request: RestRequest): string {
  const shown =
    request.body.bytes.length > 400
      ? `${request.body.bytes.subarray(0, 400).toString('utf8')}… (${request.body.bytes.length} bytes)`
      : request.body.bytes.toString('utf8');
  return `auth=${request.auth.kind} content-type=${request.contentType} body(${request.body.kind})=${JSON.stringify(shown)}`;
}

function checkShape(answer: Answer, context: string): void {
  expect(answer.status, context).toBeLessThan(500);
  expect(answer.contentType ?? '', context).toMatch(/^application\/json/);
  const body = answer.body;
  expect(['OK', 'KO'], context).toContain(body.result);
  if (body.result === 'OK') {
    expect(answer.status, context).toBe(200);
    expect(Number.isInteger(body.queue_size), context).toBe(true);
    expect(isPlainObject(body.queue_sizes), context).toBe(true);
    return;
  }
  const errno = body.errno as number;
  expect(DOCUMENTED_ERRNOS.has(errno), `${context}: undocumented errno ${errno}`).toBe(true);
  expect(answer.status, context).toBe(httpStatus(errno as Errno));
  expect(typeof body.error, context).toBe('string');
  if (body.errors !== undefined) {
    const errors = body.errors as { index: number; field: string; errno: number; error: string }[];
    expect(Array.isArray(errors) && errors.length > 0, context).toBe(true);
    for (const e of errors) {
      expect(Number.isInteger(e.index) && e.index >= 0, context).toBe(true);
      expect(typeof e.field, context).toBe('string');
      expect(DOCUMENTED_ERRNOS.has(e.errno), context).toBe(true);
      expect(typeof e.error, context).toBe('string');
    }
    const lowest = Math.min(...errors.map((e) => e.index));
    expect(
      errors.filter((e) => e.index === lowest).map((e) => e.errno),
      `${context}: the top-level errno is the lowest index's`,
    ).toContain(errno);
  }
}

function checkVerdict(expected: Expectation, answer: Answer, context: string): void {
  const body = answer.body;
  const errors = (body.errors ?? []) as { index: number; field: string; errno: number }[];
  switch (expected.stage) {
    case 'refused':
      expect(body.errno, context).toBe(expected.errno);
      return;
    case 'either':
      if (body.errno === expected.errno) return;
      checkVerdict(expected.otherwise, answer, context);
      return;
    case 'shape':
      expect(body.errno, context).toBe(101);
      if (errors.length > 0)
        expect(
          [...new Set(errors.map((e) => e.index))].sort((a, b) => a - b),
          context,
        ).toEqual(expected.indices);
      return;
    case 'uids':
      expect(body.errno, context).toBe(105);
      expect(
        errors.map((e) => e.index),
        context,
      ).toEqual(expected.unknown);
      expect(new Set(errors.map((e) => e.field)), context).toEqual(new Set(['UID']));
      return;
    case 'ok':
      expect(body.result, context).toBe('OK');
      expect(Object.keys(body.queue_sizes as object).sort(), context).toEqual([...new Set(expected.items.map((i) => i.uid))].sort());
      expect(body.queue_size, context).toBe((body.queue_sizes as Record<string, number>)[expected.items.at(-1)!.uid]);
      return;
    case 'items': {
      const definite = [...expected.errors].filter(([, list]) => list.some((e) => e.definite)).map(([i]) => i);
      const itemLevel = [102, 103, 104].includes(body.errno as number) && errors.length > 0;
      if (!itemLevel) {
        expect(definite, `${context}: items ${definite.join(', ')} should have been refused`).toEqual([]);
        checkVerdict(expected.otherwise, answer, context);
        return;
      }
      const indices = new Set(errors.map((e) => e.index));
      for (const i of definite) expect(indices.has(i), `${context}: item ${i} not refused`).toBe(true);
      for (const e of errors) {
        const allowed = expected.errors.get(e.index) ?? [];
        expect(
          allowed.some((a) => a.field === e.field && a.errno === e.errno),
          `${context}: unexpected refusal ${JSON.stringify(e)}; expected one of ${JSON.stringify(allowed)}`,
        ).toBe(true);
      }
      for (const [i, list] of expected.errors) {
        for (const a of list.filter((x) => x.definite)) {
          expect(
            errors.some((e) => e.index === i && e.field === a.field && e.errno === a.errno),
            `${context}: missing refusal of item ${i} field ${a.field} (${a.errno})`,
          ).toBe(true);
        }
      }
      return;
    }
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

async function send(request: RestRequest): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (request.contentType !== null) headers['Content-Type'] = request.contentType;
  if (request.auth.kind === 'valid') headers.Authorization = `Bearer ${app.key}`;
  else if (request.auth.kind === 'header') headers.Authorization = request.auth.value === 'OTHER' ? `Bearer ${otherApp.key}` : request.auth.value;
  const res = await rawRequest(`${node.url}/${app.appid}/notification`, { headers, body: request.body.bytes, agent });
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.text) as Record<string, unknown>;
  } catch {
    throw new Error(`answer ${res.status} is not JSON: ${res.text.slice(0, 300)}`);
  }
  return { status: res.status, contentType: res.headers['content-type'], body };
}

// ---------------------------------------------------------------------------

describe('REST route under near-valid input', () => {
  const RUNS = 10_000;
  const SEED = 20_251_125;
  let sent = 0;
  const tally = new Map<string, number>();

  it(`answers ${RUNS} generated requests with documented JSON, the right verdict, and no change on refusal`, async () => {
    let before: Snapshot | null = null;
    await withSeed('REST route', SEED, () =>
      fc.assert(
        fc.asyncProperty(restRequestArb(), async (request) => {
          const context = describeRequest(request);
          try {
            before ??= await snapshot();
            const answer = await send(request);
            sent++;
            checkShape(answer, context);
            checkVerdict(expectation(request), answer, context);
            const after = await snapshot();
            const label = answer.body.result === 'OK' ? 'OK' : String(answer.body.errno);
            tally.set(label, (tally.get(label) ?? 0) + 1);
            if (answer.body.result === 'KO') {
              expect(after, `${context}: a refusal changed a queue`).toEqual(before);
            } else {
              checkStored(request, answer, before, after, context);
            }
            before = (await tidy(after)) ? null : after;
          } catch (error) {
            before = null;
            throw error;
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: false },
      ),
    );
    console.info(`[fuzz] REST: ${sent} requests; answers by errno: ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
    expect(sent).toBeGreaterThanOrEqual(RUNS);
    expect(tally.get('OK') ?? 0).toBeGreaterThan(RUNS / 20);
    expect(problems, 'internal errors logged by the node').toEqual([]);
  }, 240_000);
});

/** An OK stored exactly the batch: each named queue grew by its items (up to the cap), and no other queue changed. */
function checkStored(request: RestRequest, answer: Answer, before: Snapshot, after: Snapshot, context: string): void {
  const parsed = JSON.parse(request.body.bytes.toString('utf8')) as unknown;
  const items = (Array.isArray(parsed) ? parsed : [parsed]) as { UID: string; ttl?: number }[];
  const perUid = new Map<string, number>();
  for (const item of items) perUid.set(item.UID, (perUid.get(item.UID) ?? 0) + 1);
  const sizes = answer.body.queue_sizes as Record<string, number>;
  // A short ttl could expire between the commit and the snapshot.
  const shortTtl = items.some((item) => typeof item.ttl === 'number' && item.ttl < 600);
  for (const uid of watchedUids) {
    const was = before.get(uid)!;
    const now = after.get(uid)!;
    const added = perUid.get(uid) ?? 0;
    if (added === 0) {
      expect(now, `${context}: queue of an unnamed UID changed`).toEqual(was);
      continue;
    }
    if (shortTtl) continue;
    const expectedSize = Math.min(100, was.ids.length + added);
    expect(now.size, context).toBe(expectedSize);
    expect(now.ids.length, context).toBe(expectedSize);
    expect(sizes[uid], context).toBe(expectedSize);
    // FIFO: the survivors of the old items, then the new ones.
    const kept = was.ids.slice(Math.max(0, was.ids.length + added - 100));
    expect(now.ids.slice(0, kept.length), context).toEqual(kept);
  }
}

// ---------------------------------------------------------------------------
// The daemon channel

describe('daemon channel under garbage', () => {
  const RUNS = 120;
  const SEED = 4_242;
  let fuzzer: Awaited<ReturnType<typeof makeDaemonUser>>;
  let victim: Awaited<ReturnType<typeof makeDaemonUser>>;
  let victimIds: string[];
  let ownIds: string[];
  let framesSent = 0;

  beforeAll(async () => {
    fuzzer = await makeDaemonUser(db);
    victim = await makeDaemonUser(db);
    for (const [who, n] of [
      [fuzzer, 20],
      [victim, 5],
    ] as const) {
      const items = Array.from({ length: n }, (_, i) => ({ UID: who.uid, message: `item ${i}`, action: 'https://example.com/' }));
      expect((await postNotifications(node.url, who.appid, who.key, items)).status).toBe(200);
    }
    victimIds = (await queueItems(db, victim.uid)).map((i) => i.id);
    ownIds = (await queueItems(db, fuzzer.uid)).map((i) => i.id);
  });

  const channel = () => `${node.url.replace(/^http/, 'ws')}/presence?connectionParams=1`;

  /** A frame to send: text (maybe JSON), or bytes sent as a binary or (invalid) text frame. */
  type Frame = { text: string } | { bytes: Buffer; binary: boolean };

  /**
   * Ids for daemon.ack. KNOWN BUG (see the test below): ids from 2^63 to
   * 10^19 - 1 pass the router's check and make PostgreSQL fail; they are kept
   * out of the generator so the property guards everything else.
   */
  const ackIds = () =>
    fc.oneof(
      fc.constant(victimIds),
      fc.subarray(victimIds, { minLength: 1 }),
      fc.subarray(ownIds, { minLength: 1 }),
      fc.tuple(fc.constantFrom(...victimIds), fc.constantFrom(...ownIds)).map((t) => [...t]),
      fc.constantFrom<unknown[]>(
        [],
        ['0'],
        ['-1'],
        ['1.5'],
        ['01'],
        [' 1'],
        ['1e3'],
        ['9223372036854775807'],
        ['99999999999999999999'],
        ['x'],
        [''],
        [null],
        [1],
        [{}],
        [[]],
        ['１'],
      ),
      fc.constant(Array.from({ length: 1_001 }, (_, i) => String(i + 1))),
      fc.constant(Array.from({ length: 1_000 }, (_, i) => String(i + 1))),
      fc.array(fc.bigInt({ min: 1n, max: 10n ** 30n }).map(String), { maxLength: 5 }),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    );

  const inputArb = () =>
    fc.oneof(
      { weight: 6, arbitrary: ackIds().map((ids) => ({ ids })) },
      { weight: 1, arbitrary: ackIds().map((ids) => ({ ids, extra: true })) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 'ids', 42, [], {}, { ids: 'x' }, { ids: { 0: '1' } }, { lastEventId: 1 }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    );

  const PATHS = [
    'daemon.ack',
    'daemon.whoami',
    'daemon.notifications',
    'daemon',
    'daemon.ack.x',
    'admin.queues.purge',
    'admin.apps.list',
    'admin.queues.watch',
    '__proto__',
    'constructor',
    'daemon.__proto__',
    'toString',
    '',
    'x'.repeat(10_000),
  ];

  const idArb = fc.oneof(
    fc.integer(),
    fc.constantFrom<unknown>(0, -1, 1e308, 2 ** 53 + 2, 0.5, 'a', '', 'x'.repeat(5_000), null, {}, [1], true),
    fc.string({ maxLength: 6 }),
  );

  const anyCall = () =>
    fc
      .record({
        id: idArb,
        jsonrpc: fc.constantFrom<unknown>(undefined, undefined, undefined, '2.0', '1.0', 2),
        method: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom('query', 'mutation', 'subscription', 'subscription.stop') },
          { weight: 1, arbitrary: fc.constantFrom<unknown>('connectionParams', 'reconnect', 'QUERY', '', 7, null) },
        ),
        path: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(1, null, ['daemon.ack']) }),
        input: inputArb(),
        lastEventId: fc.constantFrom<unknown>(undefined, undefined, undefined, 'x', 1),
        paramsShape: fc.constantFrom('object', 'object', 'object', 'missing', 'string'),
      })
      .map(({ id, jsonrpc, method, path, input, lastEventId, paramsShape }) => {
        const params =
          paramsShape === 'missing' ? undefined : paramsShape === 'string' ? 'params' : { path, input, ...(lastEventId === undefined ? {} : { lastEventId }) };
        return { id, ...(jsonrpc === undefined ? {} : { jsonrpc }), method, ...(params === undefined ? {} : { params }) };
      });

  /** Well-formed daemon.ack calls with wrong inputs, other users' ids, odd ids. */
  const ackCall = () =>
    fc
      .record({ id: fc.oneof(fc.nat(), fc.string({ maxLength: 4 })), input: inputArb() })
      .map(({ id, input }) => ({ id, method: 'mutation', params: { path: 'daemon.ack', input } }));

  const callFrame = () => fc.oneof(ackCall(), anyCall());

  const frameArb = (): fc.Arbitrary<Frame> =>
    fc.oneof(
      { weight: 12, arbitrary: callFrame().map((f) => ({ text: JSON.stringify(f) })) },
      { weight: 2, arbitrary: fc.array(callFrame(), { minLength: 0, maxLength: 4 }).map((fs) => ({ text: JSON.stringify(fs) })) },
      // Numbers JSON.stringify cannot write: a huge id is Infinity once parsed.
      {
        weight: 1,
        arbitrary: fc
          .constantFrom('1e400', '-1e400', '123456789012345678901234567890')
          .map((id) => ({ text: `{"id":${id},"method":"query","params":{"path":"daemon.whoami"}}` })),
      },
      { weight: 1, arbitrary: fc.constant({ text: JSON.stringify({ method: 'connectionParams', data: { token: 'prs_dev_other' } }) }) },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom(
            '',
            'PING',
            'PONG',
            '{',
            'null',
            '[]',
            '[null]',
            '42',
            '"x"',
            '{"id":1}',
            '{"id":1,"method":"query"}',
            '{"id":1,"method":"query","params":null}',
          )
          .map((text) => ({ text })),
      },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 50 }).map((text) => ({ text })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => ({ bytes: Buffer.from(a), binary: true })) },
      {
        weight: 1,
        arbitrary: fc.constant({ bytes: Buffer.from(JSON.stringify({ id: 1, method: 'query', params: { path: 'daemon.whoami' } })), binary: true }),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(30, 200_000)
          .map((d) => ({ text: `{"id":"deep","method":"mutation","params":{"path":"daemon.ack","input":${'['.repeat(d)}${']'.repeat(d)}}}` })),
      },
    );

  /** Rare frames that end the connection: invalid UTF-8 in a text frame, more than 1 MiB. */
  const closingFrameArb = (): fc.Arbitrary<Frame> =>
    fc.constantFrom<Frame>({ bytes: Buffer.from([0x22, 0xff, 0xfe, 0x22]), binary: false }, { text: `"${'x'.repeat(1024 * 1024 + 10)}"` });

  /** Whether tRPC accepts this as a call at all (a batch with one bad call is refused as a whole). */
  function parses(call: unknown): boolean {
    if (!isPlainObject(call)) return false;
    const { id, jsonrpc, method, params } = call;
    if (id !== null && typeof id !== 'string' && (typeof id !== 'number' || Number.isNaN(id))) return false;
    if (jsonrpc !== undefined && jsonrpc !== '2.0') return false;
    if (method === 'subscription.stop') return true;
    if (method !== 'query' && method !== 'mutation' && method !== 'subscription') return false;
    if (!isPlainObject(params) || typeof params.path !== 'string') return false;
    return params.lastEventId === undefined || typeof params.lastEventId === 'string';
  }

  /** The id keys of the calls in a frame that the server must answer (mirrors tRPC's own request rules). */
  function answerKeys(frame: unknown): string[] {
    const calls = Array.isArray(frame) ? frame : [frame];
    if (!calls.every(parses)) return [];
    return calls.filter((c) => c.id !== null && c.method !== 'subscription.stop').map((c) => JSON.stringify(c.id));
  }

  interface Connection {
    socket: WebSocket;
    messages: unknown[];
    closed: Promise<{ code: number }>;
    isClosed: () => boolean;
  }

  async function open(token: string): Promise<Connection> {
    const socket = new WebSocket(channel());
    const messages: unknown[] = [];
    let isClosed = false;
    const closed = new Promise<{ code: number }>((resolve) =>
      socket.once('close', (code) => {
        isClosed = true;
        resolve({ code });
      }),
    );
    socket.on('error', () => undefined);
    socket.on('message', (data, isBinary) => {
      const text = data.toString();
      if (!isBinary && (text === 'PING' || text === 'PONG')) return messages.push(text);
      try {
        messages.push(JSON.parse(text));
      } catch {
        messages.push({ unparsable: text });
      }
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
    return { socket, messages, closed, isClosed: () => isClosed };
  }

  const internalErrors = (messages: unknown[]) =>
    messages.filter((m) => {
      const error = isPlainObject(m) ? (m.error as Record<string, any> | undefined) : undefined;
      return error !== undefined && (error.data?.code === 'INTERNAL_SERVER_ERROR' || error.code === -32603);
    });

  it(`survives ${RUNS} connections of generated frames without an internal error or a foreign ack`, async () => {
    await withSeed('daemon channel', SEED, () =>
      fc.assert(
        fc.asyncProperty(fc.array(frameArb(), { minLength: 10, maxLength: 20 }), sometimes(closingFrameArb(), 0.06), async (frames, closing) => {
          const connection = await open(fuzzer.token);
          try {
            const expected = new Map<string, number>();
            for (const frame of closing ? [...frames, closing] : frames) {
              if ('text' in frame) {
                connection.socket.send(frame.text);
                let parsed: unknown;
                try {
                  parsed = JSON.parse(frame.text);
                } catch {
                  parsed = undefined;
                }
                for (const key of answerKeys(parsed)) expected.set(key, (expected.get(key) ?? 0) + 1);
              } else connection.socket.send(frame.bytes, { binary: frame.binary });
              framesSent++;
            }
            // A last ordinary call, then every well-formed call must have been answered.
            connection.socket.send(JSON.stringify({ id: 'sentinel', method: 'query', params: { path: 'daemon.whoami' } }));
            const answered = () => {
              const counts = new Map<string, number>();
              for (const m of connection.messages)
                if (isPlainObject(m) && 'id' in m) counts.set(JSON.stringify(m.id), (counts.get(JSON.stringify(m.id)) ?? 0) + 1);
              return [...expected, ['"sentinel"', 1] as const].every(([key, n]) => (counts.get(key) ?? 0) >= n);
            };
            const deadline = Date.now() + 15_000;
            while (!answered() && !connection.isClosed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
            expect(internalErrors(connection.messages), 'INTERNAL_SERVER_ERROR answered to client input').toEqual([]);
            if (connection.isClosed()) {
              // Only the frames meant to close it may close it, and never as an internal error (1011).
              expect(closing, `closed (code ${(await connection.closed).code}) without a closing frame`).toBeDefined();
              expect((await connection.closed).code).not.toBe(1011);
            } else {
              expect(answered(), `unanswered calls; got ${JSON.stringify(connection.messages).slice(0, 2000)}`).toBe(true);
              const sentinel = connection.messages.find((m) => isPlainObject(m) && m.id === 'sentinel') as Record<string, any>;
              expect(sentinel.result?.data?.deviceId).toBe(fuzzer.deviceId);
            }
          } finally {
            connection.socket.terminate();
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      ),
    );
    expect(framesSent).toBeGreaterThanOrEqual(1_000);
    console.info(`[fuzz] channel: ${framesSent} frames over ${RUNS} connections; socket protocol errors logged as channel errors: ${socketProtocolErrors}`);

    // The other user's queue is untouched.
    expect((await queueItems(db, victim.uid)).map((i) => i.id)).toEqual(victimIds);
    expect(problems, 'internal errors logged by the node').toEqual([]);
  }, 120_000);

  it('refuses garbage connection parameters without an internal error', async () => {
    const SEED_PARAMS = 777;
    const firstFrame = fc.oneof(
      fc.constantFrom('', 'x', '{', 'null', '[]', '{"method":"connectionParams"}', '{"method":"connectionParams","data":null}', '{"data":{"token":1}}'),
      fc.jsonValue({ maxDepth: 3 }).map((data) => JSON.stringify({ method: 'connectionParams', data })),
      fc
        .constantFrom<unknown>(null, 1, '', [], {}, 'prs_dev_x', victim.token.slice(0, -1))
        .map((token) => JSON.stringify({ method: 'connectionParams', data: { token } })),
    );
    await withSeed('connection parameters', SEED_PARAMS, () =>
      fc.assert(
        fc.asyncProperty(firstFrame, async (frame) => {
          const socket = new WebSocket(channel());
          const messages: unknown[] = [];
          socket.on('error', () => undefined);
          socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
          const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
          await new Promise<void>((resolve, reject) => {
            socket.once('open', () => resolve());
            socket.once('error', reject);
          });
          socket.send(frame);
          socket.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'daemon.whoami' } }));
          const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
          socket.terminate();
          // Refused: closed by the server, with an error that is not an internal one.
          expect(code, `connection stayed open after ${frame}`).not.toBe(-1);
          expect(internalErrors(messages)).toEqual([]);
          expect(messages.some((m) => isPlainObject(m) && isPlainObject(m.result))).toBe(false);
        }),
        { seed: SEED_PARAMS, numRuns: 60 },
      ),
    );
  }, 60_000);

  it('daemon.ack of an id from 2^63 to 10^19 - 1 answers BAD_REQUEST', async () => {
    const mark = problems.length;
    const daemon = connectChannel(node.url, fuzzer.token);
    try {
      await daemon.event(0);
      await expect(daemon.ack(['9223372036854775808'])).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
    } finally {
      await daemon.close();
      // Its "channel error" log line is the bug itself, not a finding of the properties.
      problems.splice(mark);
    }
  });

  it('still serves a normal POST and a normal subscription afterwards', async () => {
    const fresh = await makeDaemonUser(db);
    const daemon = connectChannel(node.url, fresh.token);
    try {
      expect((await daemon.event(0)).items).toEqual([]);
      const answer = await postNotifications(node.url, fresh.appid, fresh.key, { UID: fresh.uid, message: 'after the fuzz', action: 'https://example.com/' });
      expect(answer.status).toBe(200);
      expect((await daemon.event(1)).items.map((i) => i.message)).toEqual(['after the fuzz']);
    } finally {
      await daemon.close();
    }
    expect((await queueItems(db, victim.uid)).map((i) => i.id)).toEqual(victimIds);
    expect(problems, 'internal errors logged by the node').toEqual([]);
  });
});
