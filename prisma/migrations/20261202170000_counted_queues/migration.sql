-- Counted queues: a push or an ack reads only the queue row, not the whole
-- queue, whenever no item of the queue can have expired. Until now every
-- store read all of its queue's items (to count the live ones and find the
-- expired), so a push to a queue of 100 cost a hundred row visits, a third
-- of PostgreSQL's CPU for single POSTs (docs/benchmarks.md, "Eighth step").
--
-- first_expiry is a time no item of the queue expires before (null: no item
-- has one). Every insert lowers it to its items' expiry, a store that reads
-- the whole queue sets it to its live items' first one, and deletions leave
-- it as it is (still a lower bound). While it lies ahead (or is null), no
-- item has expired, so the exact size every writer keeps counts every row
-- of the queue: a store prunes the oldest rows beyond the cap through the
-- (uid, id) index, and an ack subtracts what it removed.
ALTER TABLE "queues" ADD COLUMN "first_expiry" TIMESTAMPTZ(3);
UPDATE "queues" q SET "first_expiry" = (SELECT min(i.expires_at) FROM "queue_items" i WHERE i.uid = q.uid);

-- Stores items into queues the caller has locked (contract unchanged,
-- 20261202030000_push_group). Per queue, either counted (first_expiry ahead:
-- before is its size, and its oldest items beyond the cap leave, read in
-- order through the (uid, id) index) or read whole, as before (an item may
-- have expired: before counts the live ones, the expired leave too). Only
-- one of the two runs for a queue: each is gated on the queue row.
CREATE OR REPLACE FUNCTION "store_items"(item_apps TEXT[], item_uids TEXT[], messages TEXT[], actions TEXT[], ttls INT[], tags TEXT[], cap INT, entries JSONB)
RETURNS TABLE (uid TEXT, before INT, id BIGINT, stored_at TIMESTAMPTZ)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH batch AS (
    SELECT t.*, CASE WHEN t.ttl IS NULL THEN NULL ELSE now() + make_interval(secs => t.ttl) END::timestamptz(3) AS expires_at
      FROM unnest(item_apps, item_uids, messages, actions, ttls, tags) WITH ORDINALITY AS t(app_id, uid, message, action, ttl, tag, n)
  ), inserted AS (
    INSERT INTO queue_items (uid, app_id, message, action, expires_at, tag)
    SELECT b.uid, b.app_id, b.message, b.action, b.expires_at, b.tag
      FROM batch b ORDER BY b.n
    RETURNING queue_items.id, queue_items.uid
  ), counts AS (
    -- Per queue: k arriving, before, what leaves it (its live items but the
    -- newest (cap - k), and its expired ones) and its first expiry after.
    SELECT a.uid, a.k, c.before, c.leaving, LEAST(c.first_kept, a.first_arriving) AS first_expiry
      FROM (SELECT b.uid, count(*)::int AS k, min(b.expires_at) AS first_arriving FROM batch b GROUP BY b.uid) AS a
     CROSS JOIN LATERAL (SELECT s.size, s.first_expiry, s.first_expiry IS NULL OR s.first_expiry > now() AS counted
                           FROM queues s WHERE s.uid = a.uid) AS s
     CROSS JOIN LATERAL (
           SELECT s.size AS before,
                  ARRAY(SELECT i.id FROM queue_items i WHERE i.uid = a.uid ORDER BY i.id LIMIT GREATEST(s.size + a.k - cap, 0)) AS leaving,
                  s.first_expiry AS first_kept
            WHERE s.counted
           UNION ALL
           SELECT coalesce(cardinality(q.live), 0),
                  ARRAY(SELECT v FROM unnest(q.live) AS v ORDER BY v DESC OFFSET GREATEST(cap - a.k, 0)) || q.expired,
                  q.first_live
             FROM (
                   -- Unordered, so no plan reads the queue in the primary key's order
                   -- (which statistics that lag behind the table can make look cheaper).
                   SELECT array_agg(i.id) FILTER (WHERE i.expires_at IS NULL OR i.expires_at > now()) AS live,
                          coalesce(array_agg(i.id) FILTER (WHERE i.expires_at <= now()), '{}') AS expired,
                          min(i.expires_at) FILTER (WHERE i.expires_at > now()) AS first_live
                     FROM queue_items i
                    WHERE i.uid = a.uid) AS q
            WHERE NOT s.counted) AS c
  ), pruned AS (
    DELETE FROM queue_items d WHERE d.id = ANY (ARRAY(SELECT unnest(c.leaving) FROM counts c))
  ), sizes AS (
    -- Each queue's size before and after and its first expiry, looked up by
    -- UID from one row, so no join below is planned by a guess of how many
    -- queues or pushes come.
    SELECT coalesce(jsonb_object_agg(c.uid, c.before), '{}') AS before, coalesce(jsonb_object_agg(c.uid, LEAST(cap, c.before + c.k)), '{}') AS after,
           coalesce(jsonb_object_agg(c.uid, c.first_expiry), '{}') AS first_expiry
      FROM counts c
  ), sized AS (
    UPDATE queues q SET size = (s.after ->> q.uid)::int, first_expiry = (s.first_expiry ->> q.uid)::timestamptz
      FROM sizes s
     WHERE q.uid = ANY (ARRAY(SELECT c.uid FROM counts c))
  ), pushes AS (
    SELECT * FROM ROWS FROM (jsonb_to_recordset(entries) AS (app_id text, item_count int, uids jsonb, tags jsonb, last_uid text, upto jsonb, key text))
           WITH ORDINALITY AS e(app_id, item_count, uids, tags, last_uid, upto, key, n)
  ), logged AS (
    INSERT INTO ack_log (app_id, result, item_count, uids, tags, queue_size)
    SELECT e.app_id, 'OK', e.item_count, ARRAY(SELECT jsonb_array_elements_text(e.uids)), ARRAY(SELECT jsonb_array_elements_text(e.tags)),
           LEAST(cap, coalesce((s.before ->> e.last_uid)::int, 0) + (e.upto ->> e.last_uid)::int)
      FROM pushes e CROSS JOIN sizes s
     ORDER BY e.n
  ), recorded AS (
    UPDATE idempotency_keys k
       SET response = jsonb_build_object(
             'result', 'OK',
             'queue_size', LEAST(cap, coalesce((s.before ->> e.last_uid)::int, 0) + (e.upto ->> e.last_uid)::int),
             'queue_sizes', (SELECT jsonb_object_agg(u.key, LEAST(cap, coalesce((s.before ->> u.key)::int, 0) + u.value::int))
                               FROM jsonb_each_text(e.upto) AS u(key, value)))
      FROM pushes e CROSS JOIN sizes s
     WHERE k.app_id = ANY (ARRAY(SELECT p.app_id FROM pushes p WHERE p.key IS NOT NULL))
       AND k.key = ANY (ARRAY(SELECT p.key FROM pushes p WHERE p.key IS NOT NULL))
       AND k.app_id = e.app_id AND k.key = e.key
  )
  SELECT c.uid, c.before, NULL::bigint, now()::timestamptz(3) FROM counts c
  UNION ALL
  SELECT i.uid, NULL, i.id, now()::timestamptz(3) FROM inserted i;
END;
$$;

-- A lone notification (contract unchanged, 20261202120000_push_one): a
-- counted queue is not read at all, unless full, when its oldest item
-- leaves; one that may hold expired items is read whole, as before.
CREATE OR REPLACE FUNCTION "push_one"(
  p_uid TEXT, p_app TEXT, p_message TEXT, p_action TEXT, p_ttl INT, cap INT,
  p_key TEXT, p_digest TEXT, window_hours INT)
RETURNS TABLE (uid TEXT, before INT, id BIGINT, stored_at TIMESTAMPTZ, user_id TEXT, app_name TEXT)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  queue_app TEXT;
  queue_user TEXT;
  queue_app_name TEXT;
  live INT;
  expired INT := 0;
  first_kept TIMESTAMPTZ;
  new_expiry TIMESTAMPTZ(3) := CASE WHEN p_ttl IS NULL THEN NULL ELSE now() + make_interval(secs => p_ttl) END;
  after INT;
  new_id BIGINT;
BEGIN
  -- FOR UPDATE returns the row as the transaction it waited for left it.
  SELECT q.app_id, (SELECT u.user_id::text FROM uids u WHERE u.uid = q.uid), (SELECT a.name FROM apps a WHERE a.id = q.app_id), q.size, q.first_expiry
    INTO queue_app, queue_user, queue_app_name, live, first_kept
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
  IF first_kept <= now() THEN
    -- An item may have expired: one read of the queue counts both; the delete runs only when something did.
    SELECT count(*) FILTER (WHERE i.expires_at IS NULL OR i.expires_at > now()), count(*) FILTER (WHERE i.expires_at <= now()),
           min(i.expires_at) FILTER (WHERE i.expires_at > now())
      INTO live, expired, first_kept
      FROM queue_items i
     WHERE i.uid = p_uid;
  END IF;
  IF expired > 0 THEN
    DELETE FROM queue_items i WHERE i.uid = p_uid AND i.expires_at <= now();
  END IF;
  IF live >= cap THEN
    -- FIFO: the oldest items leave (all are live now), so that the queue keeps its newest (cap - 1) and
    -- the new one: read in order through the (uid, id) index, no further than they go (a filter on
    -- expiry here made the plan sort the whole queue).
    DELETE FROM queue_items d
     WHERE d.id = ANY (ARRAY(SELECT i.id FROM queue_items i WHERE i.uid = p_uid ORDER BY i.id LIMIT live - cap + 1));
  END IF;
  INSERT INTO queue_items (uid, app_id, message, action, expires_at)
  VALUES (p_uid, p_app, p_message, p_action, new_expiry)
  RETURNING queue_items.id INTO new_id;
  after := LEAST(cap, live + 1);
  UPDATE queues q SET size = after, first_expiry = LEAST(first_kept, new_expiry) WHERE q.uid = p_uid;
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

-- A lone ack (contract unchanged, 20261202121000_ack_one): a counted queue
-- loses one from its size; one that may hold expired items is recounted.
CREATE OR REPLACE FUNCTION "ack_one"(acked_id BIGINT, acking_user UUID)
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
     SET size = CASE WHEN q.first_expiry IS NULL OR q.first_expiry > now() THEN q.size - 1
                     ELSE (SELECT count(*) FROM queue_items i WHERE i.uid = owned_uid AND (i.expires_at IS NULL OR i.expires_at > now())) END
   WHERE q.uid = owned_uid;
  RETURN QUERY VALUES (acked_id::text, acking_user::text);
END;
$$;

-- Acks (contract unchanged, 20261202060000_ack_items_planned_once): a
-- counted queue loses what was removed from its size; one that may hold
-- expired items is recounted.
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
    ), resized AS (
      UPDATE queues q
         SET size = CASE WHEN q.first_expiry IS NULL OR q.first_expiry > now() THEN q.size
                         ELSE (SELECT count(*) FROM queue_items i WHERE i.uid = q.uid AND (i.expires_at IS NULL OR i.expires_at > now())) END
                  - coalesce((l.by_uid ->> q.uid)::int, 0)
        FROM lost l
       WHERE q.uid = ANY (owned_uids)
    )
    SELECT r.id::text, (SELECT u.user_id::text FROM uids u WHERE u.uid = r.uid) FROM removed r;
END;
$$;
