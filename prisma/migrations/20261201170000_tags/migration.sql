-- Tags: an app's name for what an item is about. At most one pending item
-- per tag in a queue (a new one replaces it); the ack log tells a
-- retraction from a push.

-- AlterTable
ALTER TABLE "queue_items" ADD COLUMN "tag" TEXT;

-- CreateIndex (partial: untagged items are not indexed)
CREATE UNIQUE INDEX "queue_items_uid_tag_key" ON "queue_items"("uid", "tag") WHERE "tag" IS NOT NULL;

-- AlterTable
ALTER TABLE "ack_log" ADD COLUMN "kind" TEXT NOT NULL DEFAULT 'notification';
