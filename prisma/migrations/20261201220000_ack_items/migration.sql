-- A group of daemon acks in one round trip instead of four (BEGIN, lock,
-- delete, COMMIT): called on its own, the function is its transaction.
-- $1 item ids, $2 the user acking each (aligned). Locks the queues holding
-- items of their own users in UID order, as every queue writer locks them
-- (src/server/domain/queues.ts), then deletes those items and sets the
-- queues' sizes. Each statement here takes a fresh snapshot, so the sizes
-- count what was committed before the lock was granted. Returns each
-- removed item with the user whose queue held it. A lock not granted within
-- 10 s fails the call (55P03); the daemon's items then come again.
CREATE FUNCTION "ack_items"(acked_ids BIGINT[], acking_users UUID[])
RETURNS TABLE (item_id TEXT, owner_id TEXT)
LANGUAGE plpgsql
SET lock_timeout = '10s'
AS $$
#variable_conflict use_column
DECLARE
  owned_uids TEXT[];
BEGIN
  SELECT array_agg(locked.uid ORDER BY locked.uid) INTO owned_uids
    FROM (SELECT q.uid
            FROM queues q
           WHERE q.uid IN (SELECT i.uid
                             FROM unnest(acked_ids, acking_users) AS a(id, user_id)
                             JOIN queue_items i ON i.id = a.id
                             JOIN uids u ON u.uid = i.uid AND u.user_id = a.user_id)
           ORDER BY q.uid
             FOR UPDATE OF q) AS locked;
  IF owned_uids IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
    WITH removed AS (
      DELETE FROM queue_items d
       WHERE d.uid = ANY(owned_uids)
         AND d.id IN (SELECT i.id
                        FROM unnest(acked_ids, acking_users) AS a(id, user_id)
                        JOIN queue_items i ON i.id = a.id
                        JOIN uids u ON u.uid = i.uid AND u.user_id = a.user_id)
      RETURNING d.id, d.uid, (d.expires_at IS NULL OR d.expires_at > now()) AS live
    ), recount AS (
      UPDATE queues q
         SET size = (SELECT count(*) FROM queue_items i WHERE i.uid = q.uid AND (i.expires_at IS NULL OR i.expires_at > now()))
                  - (SELECT count(*) FROM removed r WHERE r.uid = q.uid AND r.live)
       WHERE q.uid = ANY(owned_uids)
    )
    SELECT r.id::text, u.user_id::text FROM removed r JOIN uids u ON u.uid = r.uid;
END;
$$;
