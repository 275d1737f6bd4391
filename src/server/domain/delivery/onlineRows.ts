/**
 * Online state at a cost of O(nodes), not O(connections): a row per live
 * daemon connection, written when it opens and deleted when it closes, and
 * one heartbeat row per node. A device is online while it has a row on a
 * node whose heartbeat is fresh, so a node that crashed leaves nothing that
 * looks alive for long; each node clears its own rows when it starts, and
 * housekeeping deletes the rows of nodes whose heartbeat stopped long ago.
 */
import { randomUUID } from 'node:crypto';
import { perDatabase, type Database } from '../../platform/db/client.ts';
import { prepared } from '../../platform/db/prepared.ts';
import { Coalescer, type JobOutcome } from '../../platform/db/coalescer.ts';
import { ACTIVITY_SIGNAL, announceSql } from '../../platform/signals.ts';

export const HEARTBEAT_INTERVAL_MS = 10_000;
/** A connection on a node whose heartbeat is older than this is not online. */
const HEARTBEAT_FRESH_MS = 3 * HEARTBEAT_INTERVAL_MS;

/** Opens and closes in one statement: at most this many (a reconnect storm opens thousands at once). */
const CHANGES_PER_STATEMENT = 1_000;
const FOREIGN_KEY_VIOLATION = '23503';

interface Opening {
  id: string;
  deviceId: string;
  nodeId: string;
}

/** $1 connection ids, $2 their devices, $3 their nodes: inserts the rows of devices that exist, returns their ids. */
const OPEN_CONNECTIONS = prepared(
  'open-connections',
  `
  WITH c AS (
    INSERT INTO connections (id, device_id, node_id)
    SELECT o.id, o.device_id, o.node_id
      FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS o(id, device_id, node_id)
      JOIN devices d ON d.id = o.device_id
    RETURNING id, device_id
  ), d AS (UPDATE devices SET last_seen_at = now() WHERE id IN (SELECT device_id FROM c))
  SELECT c.id::text, pg_notify('${ACTIVITY_SIGNAL}', 'devices') FROM c`,
);

/** $1 connection ids. */
const CLOSE_CONNECTIONS = prepared(
  'close-connections',
  `
  WITH c AS (DELETE FROM connections WHERE id = ANY($1::uuid[]) RETURNING device_id),
       d AS (UPDATE devices SET last_seen_at = now() WHERE id IN (SELECT device_id FROM c))
  ${announceSql('devices')}`,
);

const isForeignKeyViolation = (error: unknown) => (error as { code?: string }).code === FOREIGN_KEY_VIOLATION;

const openerOf = perDatabase((db): Coalescer<Opening, boolean> => {
  const insert = async (openings: readonly Opening[]): Promise<JobOutcome<boolean>[]> => {
    const { rows } = await db.pool.query<{ id: string }>({
      ...OPEN_CONNECTIONS,
      values: [openings.map((o) => o.id), openings.map((o) => o.deviceId), openings.map((o) => o.nodeId)],
    });
    const opened = new Set(rows.map((r) => r.id));
    return openings.map((o) => ({ ok: true, value: opened.has(o.id) }));
  };
  return new Coalescer(
    async (openings) => {
      try {
        return await insert(openings);
      } catch (error) {
        // A device revoked while its row was being written fails the statement: one by one, to find it.
        if (!isForeignKeyViolation(error) || openings.length === 1) throw error;
        const outcomes: JobOutcome<boolean>[] = [];
        for (const opening of openings) {
          const gone = (failure: unknown) => {
            if (!isForeignKeyViolation(failure)) throw failure;
            return [{ ok: true as const, value: false }];
          };
          outcomes.push(...(await insert([opening]).catch(gone)));
        }
        return outcomes;
      }
    },
    { maxWeight: CHANGES_PER_STATEMENT },
  );
});

const closerOf = perDatabase(
  (db) =>
    new Coalescer<string, void>(
      async (ids) => {
        await db.pool.query({ ...CLOSE_CONNECTIONS, values: [ids] });
        return ids.map(() => ({ ok: true, value: undefined }));
      },
      { maxWeight: CHANGES_PER_STATEMENT },
    ),
);

/**
 * Writes the online row of a new connection (grouped with the others opening
 * now: one statement and one announcement for a reconnect storm's worth).
 * Returns its id, or null when the device no longer exists.
 */
export async function openOnlineRow(db: Database, deviceId: string, nodeId: string): Promise<string | null> {
  const id = randomUUID();
  return (await openerOf(db).submit({ id, deviceId, nodeId })) ? id : null;
}

/** Deletes the online row of a closed connection (grouped like the openings). */
export async function closeOnlineRow(db: Database, connectionId: string): Promise<void> {
  await closerOf(db).submit(connectionId);
}

/** $1 the node: upserts its heartbeat row. */
const BEAT_SQL = `INSERT INTO node_heartbeats (node_id) VALUES ($1) ON CONFLICT (node_id) DO UPDATE SET beat_at = now()`;

/**
 * The node's heartbeat, one statement whatever its number of sockets: it
 * refreshes the node's own row (the only row written when nothing changed),
 * deletes the node's rows without a live socket (a close that could not be
 * written must not look online), and returns the live connections whose row
 * is gone (their device was revoked, maybe while no signal could reach this
 * node): their sockets must close.
 */
export async function heartbeat(db: Database, nodeId: string, liveConnectionIds: readonly string[]): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    // A row written after the caller listed its sockets is young, and no ghost.
    `WITH beat AS (${BEAT_SQL}),
          ghosts AS (DELETE FROM connections c WHERE c.node_id = $1 AND c.connected_at < now() - interval '5 seconds'
                        AND NOT EXISTS (SELECT 1 FROM unnest($2::uuid[]) AS live(id) WHERE live.id = c.id))
     SELECT live.id::text FROM unnest($2::uuid[]) AS live(id) WHERE NOT EXISTS (SELECT 1 FROM connections c WHERE c.id = live.id)`,
    [nodeId, liveConnectionIds],
  );
  return rows.map((row) => row.id);
}

/** At start-up: rows this node left when it stopped or crashed are ghosts; its heartbeat starts. */
export async function clearNodeOnlineRows(db: Database, nodeId: string): Promise<void> {
  await db.pool.query(`WITH cleared AS (DELETE FROM connections WHERE node_id = $1) ${BEAT_SQL}`, [nodeId]);
}

/** When the node stops: its rows and its heartbeat go, so none of its devices looks online. */
export async function endNodeOnlineRows(db: Database, nodeId: string): Promise<void> {
  await db.pool.query(`WITH cleared AS (DELETE FROM connections WHERE node_id = $1) DELETE FROM node_heartbeats WHERE node_id = $1`, [nodeId]);
}

/** The devices that are online now, each with the latest heartbeat of a node holding it (when it was last seen). */
export async function onlineDevices(db: Database): Promise<Map<string, Date>> {
  const { rows } = await db.pool.query<{ device_id: string; seen: Date }>(
    `SELECT c.device_id, max(h.beat_at) AS seen
       FROM connections c JOIN node_heartbeats h ON h.node_id = c.node_id
      WHERE h.beat_at > now() - make_interval(secs => $1)
      GROUP BY c.device_id`,
    [HEARTBEAT_FRESH_MS / 1000],
  );
  return new Map(rows.map((r) => [r.device_id, r.seen]));
}

/**
 * Deletes the heartbeat and the rows of nodes that stopped beating long ago
 * (a node that died and never came back), and old rows of no node at all.
 */
export async function sweepStaleOnlineRows(db: Database): Promise<number> {
  const { rowCount } = await db.pool.query(
    `WITH dead AS (DELETE FROM node_heartbeats WHERE beat_at < now() - interval '10 minutes' RETURNING node_id)
     DELETE FROM connections c
      WHERE c.node_id IN (SELECT node_id FROM dead)
         OR (c.connected_at < now() - interval '10 minutes' AND NOT EXISTS (SELECT 1 FROM node_heartbeats h WHERE h.node_id = c.node_id))`,
  );
  return rowCount ?? 0;
}
