/**
 * Online state: a row per live daemon connection, with its node and a
 * heartbeat. A device is online while one of its rows has a fresh heartbeat,
 * so a node that crashed leaves nothing that looks alive for long, and each
 * node clears its own rows when it starts.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client.ts';
import { announceSql } from './signals.ts';

export const HEARTBEAT_INTERVAL_MS = 10_000;
/** A connection whose heartbeat is older than this is not online. */
export const HEARTBEAT_FRESH_MS = 3 * HEARTBEAT_INTERVAL_MS;

export async function openConnection(db: Database, deviceId: string, nodeId: string): Promise<string> {
  const id = randomUUID();
  await db.pool.query(
    `WITH c AS (INSERT INTO connections (id, device_id, node_id) VALUES ($1, $2, $3)),
          d AS (UPDATE devices SET last_seen_at = now() WHERE id = $2)
     ${announceSql('devices')}`,
    [id, deviceId, nodeId],
  );
  return id;
}

export async function closeConnection(db: Database, connectionId: string): Promise<void> {
  await db.pool.query(
    `WITH c AS (DELETE FROM connections WHERE id = $1 RETURNING device_id),
          d AS (UPDATE devices SET last_seen_at = now() WHERE id IN (SELECT device_id FROM c))
     ${announceSql('devices')}`,
    [connectionId],
  );
}

/**
 * Refreshes the heartbeat of this node's live connections (and their devices'
 * last seen), and deletes any other row of this node: a socket whose closing
 * could not be written must not look online.
 */
export async function heartbeat(db: Database, nodeId: string, liveConnectionIds: readonly string[]): Promise<void> {
  await db.pool.query(
    `WITH ghosts AS (DELETE FROM connections WHERE node_id = $1 AND NOT (id = ANY($2::uuid[]))),
          c AS (UPDATE connections SET heartbeat_at = now() WHERE id = ANY($2::uuid[]) RETURNING device_id)
     UPDATE devices SET last_seen_at = now() WHERE id IN (SELECT device_id FROM c)`,
    [nodeId, liveConnectionIds],
  );
}

/** At start-up: rows this node left when it stopped or crashed are ghosts. */
export async function clearNodeConnections(db: Database, nodeId: string): Promise<void> {
  await db.pool.query('DELETE FROM connections WHERE node_id = $1', [nodeId]);
}

/** Ids of the devices that are online now. */
export async function onlineDeviceIds(db: Database): Promise<Set<string>> {
  const { rows } = await db.pool.query<{ device_id: string }>(
    `SELECT DISTINCT device_id FROM connections WHERE heartbeat_at > now() - make_interval(secs => $1)`,
    [HEARTBEAT_FRESH_MS / 1000],
  );
  return new Set(rows.map((r) => r.device_id));
}

/** Deletes rows whose heartbeat stopped long ago (a node that died and never came back). */
export async function sweepStaleConnections(db: Database): Promise<number> {
  const { rowCount } = await db.pool.query(`DELETE FROM connections WHERE heartbeat_at < now() - interval '10 minutes'`);
  return rowCount ?? 0;
}
