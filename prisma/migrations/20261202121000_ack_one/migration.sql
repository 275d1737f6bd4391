-- A lone ack (one daemon acking one item, what a trickle of deliveries
-- brings) by plain statements instead of ack_items' arrays and aggregates:
-- the same contract (20261202060000_ack_items_planned_once) for one item,
-- at about two thirds of its CPU (docs/benchmarks.md, "Seventh step").
--
-- Removes the item when it is in a queue of acking_user's: locks that queue
-- (one queue, so no order to keep), deletes the item and sets the queue's
-- exact size. Each statement takes a fresh snapshot, so an item pruned or
-- acked in the meantime is simply not removed again. Returns the removed
-- item with its owner, or nothing. A lock not granted within 10 s fails the
-- call (55P03); the daemon's item then comes again.
CREATE FUNCTION "ack_one"(acked_id BIGINT, acking_user UUID)
RETURNS TABLE (item_id TEXT, owner_id TEXT)
LANGUAGE plpgsql
SET lock_timeout = '10s'
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  owned_uid TEXT;
BEGIN
  SELECT i.uid INTO owned_uid
    FROM queue_items i
   WHERE i.id = acked_id AND i.uid = ANY (ARRAY(SELECT u.uid FROM uids u WHERE u.user_id = acking_user));
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM FROM queues q WHERE q.uid = owned_uid FOR UPDATE OF q;
  DELETE FROM queue_items d WHERE d.uid = owned_uid AND d.id = acked_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE queues q
     SET size = (SELECT count(*) FROM queue_items i WHERE i.uid = owned_uid AND (i.expires_at IS NULL OR i.expires_at > now()))
   WHERE q.uid = owned_uid;
  RETURN QUERY VALUES (acked_id::text, acking_user::text);
END;
$$;
