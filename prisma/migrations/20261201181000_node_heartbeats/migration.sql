-- One heartbeat row per node: liveness costs a write per node and heartbeat,
-- not one per connection.
CREATE TABLE "node_heartbeats" (
    "node_id" TEXT NOT NULL,
    "beat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "node_heartbeats_pkey" PRIMARY KEY ("node_id")
);

-- Connection rows are written when they open and close only: a device is
-- online while its row's node has a fresh heartbeat.
ALTER TABLE "connections" DROP COLUMN "heartbeat_at";
