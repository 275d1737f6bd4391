import { MAX_ITEMS_PER_BATCH } from '../shared/limits.ts';

/** The largest body the server takes (README: 2 MiB). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** One request's share of a list: its JSON body and the index of its first item in the list. */
export interface Batch {
  body: string;
  offset: number;
  count: number;
}

const utf8 = new TextEncoder();

/**
 * Cuts a list into JSON bodies of at most 1,000 items and 2 MiB each, in
 * order. An item too large on its own goes alone, and the server refuses it
 * (106) like any other request.
 */
export function splitIntoBatches(items: readonly unknown[], limits = { items: MAX_ITEMS_PER_BATCH, bytes: MAX_BODY_BYTES }): Batch[] {
  const batches: Batch[] = [];
  let parts: string[] = [];
  let bytes = 2; // the brackets
  let offset = 0;
  const flush = () => {
    if (parts.length === 0) return;
    batches.push({ body: `[${parts.join(',')}]`, offset, count: parts.length });
    offset += parts.length;
    parts = [];
    bytes = 2;
  };
  for (const item of items) {
    const json = JSON.stringify(item);
    const length = utf8.encode(json).length;
    if (parts.length >= limits.items || (parts.length > 0 && bytes + 1 + length > limits.bytes)) flush();
    bytes += length + (parts.length > 0 ? 1 : 0);
    parts.push(json);
  }
  flush();
  return batches;
}
