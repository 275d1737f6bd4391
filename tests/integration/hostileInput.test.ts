/**
 * POST /<appid>/notification against hostile bodies, through the real HTTP
 * server in this process (so the test sees the server's event loop): bodies
 * built to stall the parser, refusals built to be huge, prototype names,
 * dangerous deep-link schemes and web links with a user name.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient, queueSize } from '../support/factories.ts';
import { useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started), { RATE_LIMIT_PER_SECOND: '0' });

const MAX_BODY = 2 * 1024 * 1024;

/** POSTs a raw body and reads the answer's size and JSON. */
async function post(appid: string, key: string, body: string | Uint8Array<ArrayBuffer>) {
  const res = await fetch(`${node.url}/${appid}/notification`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body,
  });
  const text = await res.text();
  return { status: res.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) as Record<string, any> };
}

/** Just under 2 MiB of `[[[[…]]]]`. */
function nestedArrays(): string {
  const depth = Math.floor((MAX_BODY - 16) / 2);
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** One notification with about 200,000 unknown fields, just under 2 MiB. */
function unknownFields(uid: string): string {
  const fields: string[] = [];
  let size = 200;
  for (let n = 0; size < MAX_BODY - 64; n++) {
    const field = `"f${n}":0`;
    fields.push(field);
    size += field.length + 1;
  }
  return `{"UID":"${uid}","message":"m","action":"https://example.com/",${fields.join(',')}}`;
}

/** Runs `work` and returns its result and the longest stall of this process's event loop meanwhile, in ms. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  try {
    const result = await work();
    return { result, stallMs: delay.max / 1e6 };
  } finally {
    delay.disable();
  }
}

describe('hostile bodies', () => {
  it('keeps the event loop and /healthz responsive under three concurrent 2 MiB nested-array bodies and three of 200,000 unknown fields, with small refusals', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    // Encoded up front, so that the measurement sees the server's work rather than the client's.
    const nested = new TextEncoder().encode(nestedArrays());
    const fields = new TextEncoder().encode(unknownFields(uid));
    expect(unknownFields(uid).split(',').length).toBeGreaterThan(150_000);
    // Warm up the client and the route, whose first requests are slow for reasons of their own.
    await post(appid, key, nestedArrays().slice(0, 64));
    await post(appid, key, `{"UID":"${uid}","f":1}`);

    const { result, stallMs } = await longestStall(() =>
      Promise.all([
        post(appid, key, nested),
        post(appid, key, nested),
        post(appid, key, nested),
        post(appid, key, fields),
        post(appid, key, fields),
        post(appid, key, fields),
        fetch(`${node.url}/healthz`).then((res) => res.status),
      ]),
    );

    const health = result.pop();
    expect(health).toBe(200);
    for (const answer of result as Awaited<ReturnType<typeof post>>[]) {
      expect(answer.status).toBe(413);
      expect(answer.body).toMatchObject({ result: 'KO', errno: 106 });
      expect(answer.bytes).toBeLessThan(1024);
    }
    expect((result[0] as Awaited<ReturnType<typeof post>>).body.error).toBe('body is nested deeper than 16 levels');
    expect((result[3] as Awaited<ReturnType<typeof post>>).body.error).toBe('body has more than 10000 values (list elements and object fields)');
    // Parsing and checking one of these bodies blocked the loop for over a second
    // before; the structure check refuses them before any parsing. The bound is
    // loose because a loaded machine stalls any process now and then.
    expect(stallMs).toBeLessThan(500);
    expect(await queueSize(db, uid)).toBe(0);
  });

  it('lists at most 100 errors of a batch full of them, with the count of the rest', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const item = (n: number) => `{"UID":"${uid}","message":"","action":"ftp://x","a${n}":1,"b":2,"c":3,"d":4,"e":5}`;
    const answer = await post(appid, key, `[${Array.from({ length: 1000 }, (_, n) => item(n)).join(',')}]`);
    expect(answer.status).toBe(400);
    expect(answer.body.errno).toBe(103);
    expect(answer.body.errors).toHaveLength(100);
    expect(answer.body.errors_omitted).toBe(7000 - 100);
    expect(answer.body.error).toBe('item 0: unknown field "a0" (and 6999 more)');
    expect(answer.bytes).toBeLessThan(16 * 1024);
  });

  it('answers nesting beyond 16 levels with 106 even inside a field, and still takes 16', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const deep = await post(appid, key, `{"UID":"${uid}","message":${'['.repeat(17)}${']'.repeat(17)},"action":"https://example.com/"}`);
    expect(deep).toMatchObject({ status: 413, body: { errno: 106, error: 'body is nested deeper than 16 levels' } });
    const fifteen = await post(appid, key, `[{"UID":"${uid}","message":${'['.repeat(14)}${']'.repeat(14)},"action":"https://example.com/"}]`);
    expect(fifteen).toMatchObject({ status: 400, body: { errno: 102, errors: [{ field: 'message', errno: 102 }] } });
  });
});

describe('hostile field names and links', () => {
  it('names unknown fields such as __proto__ and constructor without a hint from Object.prototype', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const answer = await post(appid, key, `{"UID":"${uid}","message":"m","action":"https://example.com/","__proto__":{"x":1},"constructor":1}`);
    expect(answer.body.errors).toEqual([
      { index: 0, field: '__proto__', errno: 103, error: 'unknown field "__proto__"' },
      { index: 0, field: 'constructor', errno: 103, error: 'unknown field "constructor"' },
    ]);
  });

  it('refuses a web link with a user name or password, and a scheme known to run local code even if the app had registered it', async () => {
    const { appid, key, uid } = await makeRecipient(db, { schemes: ['chat'] });
    // As an app registered before the rule: its stored schemes still list them.
    await db.pool.query(`UPDATE apps SET schemes = ARRAY['chat', 'ms-msdt', 'search-ms', 'intent'] WHERE id = $1`, [appid]);
    const actions = [
      'https://user:pass@evil.example@good.example/',
      'ms-msdt:/id PCWDiagnostic',
      'search-ms:query=x&crumb=location:\\\\evil\\share',
      'intent://scan/#Intent;scheme=zxing;end',
      'chat://room/1',
    ];
    const answer = await post(appid, key, JSON.stringify(actions.map((action) => ({ UID: uid, message: 'm', action }))));
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      { index: 0, field: 'action', errno: 104, error: 'http(s) action must not carry a user name or password (user@host)' },
      { index: 1, field: 'action', errno: 104, error: 'action must not contain spaces or control characters' },
      { index: 2, field: 'action', errno: 104, error: 'scheme "search-ms:" is never allowed' },
      { index: 3, field: 'action', errno: 104, error: 'scheme "intent:" is never allowed' },
    ]);
    const msdt = await post(appid, key, JSON.stringify({ UID: uid, message: 'm', action: 'ms-msdt:/id%20PCWDiagnostic' }));
    expect(msdt.body.errors).toEqual([{ index: 0, field: 'action', errno: 104, error: 'scheme "ms-msdt:" is never allowed' }]);
    expect(await queueSize(db, uid)).toBe(0);
  });
});
