-- A group of pushes in one round trip instead of four (BEGIN, lock, store,
-- COMMIT), as ack_items did for acks: called on its own, push_group is its
-- transaction. The store itself becomes store_items, which the transaction
-- path (tags, retractions, refusals: src/server/domain/notifications/
-- groupTransaction.ts) calls too, so there is one statement that stores.

-- $1-$3 apps, keys and body digests (hex), aligned. Claims the keys in one
-- order (a concurrent retry waits here until the first commits or rolls
-- back) and returns those claimed. A live claim is kept; one older than
-- window_hours is taken over.
CREATE FUNCTION "claim_idempotency_keys"(key_apps TEXT[], keys TEXT[], digests TEXT[], window_hours INT)
RETURNS TABLE (app_id TEXT, key TEXT)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    INSERT INTO idempotency_keys (app_id, key, request_digest)
    SELECT c.app_id, c.key, decode(c.digest, 'hex')
      FROM unnest(key_apps, keys, digests) AS c(app_id, key, digest)
     ORDER BY c.app_id, c.key
    ON CONFLICT (app_id, key) DO UPDATE
       SET request_digest = EXCLUDED.request_digest, response = NULL, created_at = now()
     WHERE idempotency_keys.created_at <= now() - make_interval(hours => window_hours)
    RETURNING idempotency_keys.app_id, idempotency_keys.key;
END;
$$;

-- Stores items into queues the caller has locked. Every part reads the
-- snapshot taken before the insert, so "existing" is what the queues held
-- before: each queue keeps its newest (cap - k) live items when k items
-- arrive (the caller never sends more than the cap for one queue), and
-- loses its expired ones.
--
-- Each queue is read once, through its (uid, id) index, and what leaves it
-- is deleted by id: one plan serves every group, so PostgreSQL plans it
-- once per connection (force_generic_plan) instead of once per call (it
-- would otherwise choose to, and the planning cost more than the run). That
-- plan must not depend on the tables' statistics, which lag behind a table
-- that grows fast (a plan made while queue_items looked empty scanned it
-- whole for each queue): every row is reached through an index
-- (enable_seqscan off), and the sizes are looked up by UID from one row
-- rather than joined on a guess of how many queues or pushes come.
--
-- The items' apps, UIDs, messages, actions, ttls (seconds or null) and tags
-- (or null) are aligned, in arrival order. entries holds one ack log entry
-- per push, in order: {app_id, item_count, uids, tags, last_uid, upto, key},
-- where upto maps each UID of the push to how much the group grew its queue
-- up to and including that push, and key is the push's Idempotency-Key (or
-- null): a push with a key has its ack recorded for replay, the same ack
-- the caller computes (a queue's size after a push is its size before the
-- group plus upto, capped).
--
-- Returns each queue's live items before the statement ("before"), then
-- each inserted item's id (before null), all with the statement's time to
-- the millisecond, which daemons are shown as the items' creation time.
CREATE FUNCTION "store_items"(item_apps TEXT[], item_uids TEXT[], messages TEXT[], actions TEXT[], ttls INT[], tags TEXT[], cap INT, entries JSONB)
RETURNS TABLE (uid TEXT, before INT, id BIGINT, stored_at TIMESTAMPTZ)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH batch AS (
    SELECT * FROM unnest(item_apps, item_uids, messages, actions, ttls, tags) WITH ORDINALITY AS t(app_id, uid, message, action, ttl, tag, n)
  ), inserted AS (
    INSERT INTO queue_items (uid, app_id, message, action, expires_at, tag)
    SELECT b.uid, b.app_id, b.message, b.action, CASE WHEN b.ttl IS NULL THEN NULL ELSE now() + make_interval(secs => b.ttl) END, b.tag
      FROM batch b ORDER BY b.n
    RETURNING queue_items.id, queue_items.uid
  ), counts AS (
    -- Per queue: k arriving, before, and what leaves it: its live items but
    -- the newest (cap - k), and its expired ones.
    SELECT a.uid, a.k, coalesce(cardinality(q.live), 0) AS before,
           ARRAY(SELECT v FROM unnest(q.live) AS v ORDER BY v DESC OFFSET GREATEST(cap - a.k, 0)) || q.expired AS leaving
      FROM (SELECT b.uid, count(*)::int AS k FROM batch b GROUP BY b.uid) AS a
     CROSS JOIN LATERAL (
           -- Unordered, so no plan reads the queue in the primary key's order
           -- (which statistics that lag behind the table can make look cheaper).
           SELECT array_agg(i.id) FILTER (WHERE i.expires_at IS NULL OR i.expires_at > now()) AS live,
                  coalesce(array_agg(i.id) FILTER (WHERE i.expires_at <= now()), '{}') AS expired
             FROM queue_items i
            WHERE i.uid = a.uid) AS q
  ), pruned AS (
    DELETE FROM queue_items d WHERE d.id = ANY (ARRAY(SELECT unnest(c.leaving) FROM counts c))
  ), sizes AS (
    -- Each queue's size before and after, looked up by UID: one row, so no
    -- join below is planned by a guess of how many queues or pushes come.
    SELECT coalesce(jsonb_object_agg(c.uid, c.before), '{}') AS before, coalesce(jsonb_object_agg(c.uid, LEAST(cap, c.before + c.k)), '{}') AS after
      FROM counts c
  ), sized AS (
    UPDATE queues q SET size = (s.after ->> q.uid)::int
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

-- A whole group of untagged pushes: locks their queues in UID order, as
-- every queue writer locks them (src/server/domain/queues.ts), checks that
-- each (UID, app) pair names a queue of that app, claims the keys, and
-- stores with store_items; each statement takes a fresh snapshot, so the
-- store counts what was committed before the lock was granted. pair_uids
-- and pair_apps are the group's distinct (UID, app) pairs.
--
-- Returns store_items' rows, then one row per locked queue with its user
-- and its app's name (before and id null). A pair that is not a queue of
-- its app fails the call with SQLSTATE PU105, a key claimed by an earlier
-- request with PU120: nothing is stored, and the caller runs the group's
-- transaction path, which answers each push alone.
CREATE FUNCTION "push_group"(
  pair_uids TEXT[], pair_apps TEXT[],
  item_apps TEXT[], item_uids TEXT[], messages TEXT[], actions TEXT[], ttls INT[], cap INT, entries JSONB,
  key_apps TEXT[], keys TEXT[], digests TEXT[], window_hours INT)
RETURNS TABLE (uid TEXT, before INT, id BIGINT, stored_at TIMESTAMPTZ, user_id TEXT, app_name TEXT)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  -- Each pair's app by UID; a UID named by two apps is one key, and refused below.
  app_of JSONB := jsonb_object(pair_uids, pair_apps);
  locked_uids TEXT[];
  locked_users TEXT[];
  locked_names TEXT[];
  all_of_their_app BOOLEAN;
BEGIN
  -- Each row through its primary key, whatever the statistics say: the queues
  -- in UID order, each one's user and app by one lookup.
  SELECT array_agg(l.uid), array_agg(l.user_id), array_agg(l.name), bool_and(l.app_id = app_of ->> l.uid)
    INTO locked_uids, locked_users, locked_names, all_of_their_app
    FROM (SELECT q.uid, q.app_id,
                 (SELECT u.user_id::text FROM uids u WHERE u.uid = q.uid) AS user_id,
                 (SELECT a.name FROM apps a WHERE a.id = q.app_id) AS name
            FROM queues q
           WHERE q.uid = ANY (pair_uids)
           ORDER BY q.uid
             FOR UPDATE OF q) AS l;
  IF coalesce(cardinality(locked_uids), 0) < cardinality(pair_uids) OR NOT all_of_their_app THEN
    RAISE EXCEPTION 'a UID of the group is not a queue of its app' USING ERRCODE = 'PU105';
  END IF;
  IF cardinality(keys) > 0
     AND (SELECT count(*) FROM claim_idempotency_keys(key_apps, keys, digests, window_hours)) < cardinality(keys) THEN
    RAISE EXCEPTION 'an Idempotency-Key of the group is taken' USING ERRCODE = 'PU120';
  END IF;
  RETURN QUERY
    SELECT s.uid, s.before, s.id, s.stored_at, NULL, NULL
      FROM store_items(item_apps, item_uids, messages, actions, ttls, NULL, cap, entries) AS s
    UNION ALL
    SELECT l.uid, NULL, NULL, NULL, l.user_id, l.name
      FROM unnest(locked_uids, locked_users, locked_names) AS l(uid, user_id, name);
END;
$$;
