-- ack_items, planned once per connection instead of once per call, as
-- store_items is (20261202030000_push_group): PostgreSQL made a custom plan
-- of its two joins on every call, which cost more than running them (a lone
-- ack took about 1.1 ms of the server's CPU; planned once, about 0.4 ms).
-- The plan must not depend on the tables' statistics, which lag behind a
-- table that grows and empties fast: every row is reached through its
-- primary key or its queue's index (enable_seqscan off), one lookup per
-- acked item, never by a join whose order a guess of the sizes decides.
--
-- Same contract: $1 item ids, $2 the user acking each (aligned). Locks the
-- queues holding items of their own users in UID order, as every queue
-- writer locks them (src/server/domain/queues.ts), then deletes those items
-- and sets the queues' sizes. Each statement takes a fresh snapshot, so the
-- sizes count what was committed before the lock was granted, and an item
-- pruned in the meantime is simply not removed again. Returns each removed
-- item with the user whose queue held it. A lock not granted within 10 s
-- fails the call (55P03); the daemon's items then come again.
CREATE OR REPLACE FUNCTION "ack_items"(acked_ids BIGINT[], acking_users UUID[])
RETURNS TABLE (item_id TEXT, owner_id TEXT)
LANGUAGE plpgsql
SET lock_timeout = '10s'
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  owned_ids BIGINT[];
  owned_uids TEXT[];
BEGIN
  -- The acked items that are their acker's own, and their queues: each
  -- item by its id among its acker's queues (so no plan can look an item up
  -- by scanning the (uid, id) index for its id alone).
  SELECT array_agg(o.id), array_agg(DISTINCT o.uid ORDER BY o.uid)
    INTO owned_ids, owned_uids
    FROM (SELECT a.id,
                 (SELECT i.uid FROM queue_items i
                   WHERE i.id = a.id AND i.uid = ANY (ARRAY(SELECT u.uid FROM uids u WHERE u.user_id = a.user_id))) AS uid
            FROM unnest(acked_ids, acking_users) AS a(id, user_id)
          OFFSET 0) AS o
   WHERE o.uid IS NOT NULL;
  IF owned_ids IS NULL THEN
    RETURN;
  END IF;
  PERFORM q.uid FROM queues q WHERE q.uid = ANY (owned_uids) ORDER BY q.uid FOR UPDATE OF q;
  RETURN QUERY
    WITH removed AS (
      DELETE FROM queue_items d
       WHERE d.uid = ANY (owned_uids) AND d.id = ANY (owned_ids)
      RETURNING d.id, d.uid, (d.expires_at IS NULL OR d.expires_at > now()) AS live
    ), lost AS (
      -- The live items each queue lost, looked up by UID from one row: a
      -- count over everything removed for each queue grew with the square
      -- of the group (a group of 2,000 acks cost 6 times as much per item).
      SELECT coalesce(jsonb_object_agg(g.uid, g.n), '{}') AS by_uid
        FROM (SELECT r.uid, count(*) FILTER (WHERE r.live) AS n FROM removed r GROUP BY r.uid) AS g
    ), recount AS (
      UPDATE queues q
         SET size = (SELECT count(*) FROM queue_items i WHERE i.uid = q.uid AND (i.expires_at IS NULL OR i.expires_at > now()))
                  - coalesce((l.by_uid ->> q.uid)::int, 0)
        FROM lost l
       WHERE q.uid = ANY (owned_uids)
    )
    SELECT r.id::text, (SELECT u.user_id::text FROM uids u WHERE u.uid = r.uid) FROM removed r;
END;
$$;
