-- CreateTable
CREATE TABLE "idempotency_keys" (
    "app_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_digest" BYTEA NOT NULL,
    "response" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("app_id","key")
);

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- AddForeignKey
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Per-app request counters, one row per app and second. UNLOGGED: a counter
-- lost in a crash costs nothing, and writing it needs no WAL flush, so the
-- count does not add a disk sync to every request.
CREATE UNLOGGED TABLE "rate_windows" (
    "app_id" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(0) NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "rate_windows_pkey" PRIMARY KEY ("app_id","window_start")
);

-- The expiry sweep looks for expired items only.
CREATE INDEX "queue_items_expires_at_idx" ON "queue_items"("expires_at") WHERE "expires_at" IS NOT NULL;
