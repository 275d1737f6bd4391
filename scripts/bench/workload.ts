/**
 * The ingest workload, shared by the HTTP side (the service) and the direct
 * pg side (the ceiling) so that both store exactly the same batches: request
 * number k of a run takes `batch` consecutive UIDs starting at k × batch
 * (mod the UID count), so batches of 100 spread over all 1,000 UIDs and no
 * queue overflows during a row (the queues are emptied between rows).
 */

export interface Item {
  UID: string;
  message: string;
  action: string;
}

/**
 * Request numbers are interleaved across virtual clients: client g (0 ≤ g < C)
 * sends requests g, g + C, g + 2C, … — the same sequence whichever process
 * the client runs in.
 */
export function requestNumber(client: number, iteration: number, concurrency: number): number {
  return client + iteration * concurrency;
}

export function batchItems(uids: readonly string[], batch: number, requestNo: number, tag = ''): Item[] {
  const items: Item[] = [];
  const start = (requestNo * batch) % uids.length;
  for (let j = 0; j < batch; j++) {
    const uid = uids[(start + j) % uids.length] as string;
    // Realistic sizes: a sentence of 50-odd characters and a short URL.
    items.push({ UID: uid, message: `Your nick was used in #general (bench ${requestNo}.${j}${tag})`, action: `https://chat.example/#general/${requestNo}` });
  }
  return items;
}

/** Splits `total` virtual clients over `workers` processes: [first client index, count] per worker. */
export function splitClients(total: number, workers: number): [number, number][] {
  const used = Math.min(workers, total);
  const result: [number, number][] = [];
  let first = 0;
  for (let w = 0; w < used; w++) {
    const count = Math.floor(total / used) + (w < total % used ? 1 : 0);
    result.push([first, count]);
    first += count;
  }
  return result;
}
