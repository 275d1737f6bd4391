/**
 * Reading a request body within limits: its size in bytes, and the nesting
 * and number of values of its JSON, checked on the bytes before anything
 * parses them (JSON.parse of 2 MiB built to be slow blocks the event loop
 * for most of a second; a notification batch is flat and small).
 */
import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {}

/** Reads the whole body, rejecting with BodyTooLarge as soon as it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        // Keep draining (and discarding) so the refusal can still be written.
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/** Deepest nesting of lists and objects a body may have (a batch needs 2). */
export const MAX_JSON_DEPTH = 16;

/** Most list elements and object fields a body may hold in all (a full batch of 1,000 notifications has 5,000 or fewer). */
export const MAX_JSON_VALUES = 10_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** Index of the quote that closes the string opened at `open`, or the body's length if none does. */
function closingQuote(body: Uint8Array, open: number): number {
  let at = open;
  for (;;) {
    at = body.indexOf(QUOTE, at + 1);
    if (at === -1) return body.length;
    let backslashes = 0;
    while (body[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

/**
 * Why the JSON in `body` is nested too deeply or holds too many values to be
 * parsed, or null. Reads the bytes once, jumping over strings with a native
 * search, and stops at the first limit passed; malformed JSON is left to the
 * parser.
 */
export function jsonStructureRefusal(body: Uint8Array): string | null {
  let depth = 0;
  let values = 0;
  // Just after "[" or "{": the next token, unless it closes, is a first value.
  let opened = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] as number;
    if (isJsonSpace(byte)) continue;
    if (opened) {
      opened = false;
      if (byte !== CLOSE_LIST && byte !== CLOSE_OBJECT) values++;
    }
    if (byte === QUOTE) i = closingQuote(body, i);
    else if (byte === COMMA) values++;
    else if (byte === OPEN_LIST || byte === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) return `body is nested deeper than ${MAX_JSON_DEPTH} levels`;
      opened = true;
    } else if (byte === CLOSE_LIST || byte === CLOSE_OBJECT) depth--;
    if (values > MAX_JSON_VALUES) return `body has more than ${MAX_JSON_VALUES} values (list elements and object fields)`;
  }
  return null;
}
