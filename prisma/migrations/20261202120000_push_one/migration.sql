-- A lone notification (one push of one untagged item, the group a steady
-- trickle of single POSTs makes) stored by plain statements instead of
-- push_group's set-based store: the same contract, at about half the
-- server's CPU (push_group's arrays, JSON entries and aggregates cost more
-- than storing one row; docs/benchmarks.md, "Seventh step").
--
-- Locks the queue, checks that it is a queue of p_app (PU105 otherwise),
-- claims the key when there is one (PU120 when an earlier request holds
-- it), drops the queue's expired items and, when it is full, its oldest
-- live ones, inserts, sets the exact size, logs the ack and records it for
-- replay under the key. Called on its own, it is its transaction.
--
-- Returns push_group's rows, so that the caller reads both alike: the
-- queue's live items before, the inserted item's id with the statement's
-- time to the millisecond, then the queue's user and its app's name.
CREATE FUNCTION "push_one"(
  p_uid TEXT, p_app TEXT, p_message TEXT, p_action TEXT, p_ttl INT, cap INT,
  p_key TEXT, p_digest TEXT, window_hours INT)
RETURNS TABLE (uid TEXT, before INT, id BIGINT, stored_at TIMESTAMPTZ, user_id TEXT, app_name TEXT)
LANGUAGE plpgsql
-- Planned once per connection, every row through an index: see store_items.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  queue_app TEXT;
  queue_user TEXT;
  queue_app_name TEXT;
  live INT;
  expired INT;
  after INT;
  new_id BIGINT;
BEGIN
  SELECT q.app_id, (SELECT u.user_id::text FROM uids u WHERE u.uid = q.uid), (SELECT a.name FROM apps a WHERE a.id = q.app_id)
    INTO queue_app, queue_user, queue_app_name
    FROM queues q
   WHERE q.uid = p_uid
     FOR UPDATE OF q;
  IF NOT FOUND OR queue_app <> p_app THEN
    RAISE EXCEPTION 'a UID of the group is not a queue of its app' USING ERRCODE = 'PU105';
  END IF;
  IF p_key IS NOT NULL
     AND NOT EXISTS (SELECT FROM claim_idempotency_keys(ARRAY[p_app], ARRAY[p_key], ARRAY[p_digest], window_hours)) THEN
    RAISE EXCEPTION 'an Idempotency-Key of the group is taken' USING ERRCODE = 'PU120';
  END IF;
  -- One read of the queue counts both; the delete runs only when something expired.
  SELECT count(*) FILTER (WHERE i.expires_at IS NULL OR i.expires_at > now()), count(*) FILTER (WHERE i.expires_at <= now())
    INTO live, expired
    FROM queue_items i
   WHERE i.uid = p_uid;
  IF expired > 0 THEN
    DELETE FROM queue_items i WHERE i.uid = p_uid AND i.expires_at <= now();
  END IF;
  IF live >= cap THEN
    -- FIFO: the oldest live items leave, so that the queue keeps its newest (cap - 1) and the new one.
    DELETE FROM queue_items d
     WHERE d.id = ANY (ARRAY(SELECT i.id FROM queue_items i WHERE i.uid = p_uid AND (i.expires_at IS NULL OR i.expires_at > now())
                              ORDER BY i.id LIMIT live - cap + 1));
  END IF;
  INSERT INTO queue_items (uid, app_id, message, action, expires_at)
  VALUES (p_uid, p_app, p_message, p_action, CASE WHEN p_ttl IS NULL THEN NULL ELSE now() + make_interval(secs => p_ttl) END)
  RETURNING queue_items.id INTO new_id;
  after := LEAST(cap, live + 1);
  UPDATE queues q SET size = after WHERE q.uid = p_uid;
  INSERT INTO ack_log (app_id, result, item_count, uids, queue_size) VALUES (p_app, 'OK', 1, ARRAY[p_uid], after);
  IF p_key IS NOT NULL THEN
    UPDATE idempotency_keys k
       SET response = jsonb_build_object('result', 'OK', 'queue_size', after, 'queue_sizes', jsonb_build_object(p_uid, after))
     WHERE k.app_id = p_app AND k.key = p_key;
  END IF;
  RETURN QUERY VALUES
    (p_uid, live, NULL::bigint, NULL::timestamptz, NULL::text, NULL::text),
    (p_uid, NULL, new_id, now()::timestamptz(3), NULL, NULL),
    (p_uid, NULL, NULL, NULL, queue_user, queue_app_name);
END;
$$;
