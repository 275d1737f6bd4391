-- CreateTable
CREATE TABLE "connections" (
    "id" UUID NOT NULL,
    "device_id" UUID NOT NULL,
    "node_id" TEXT NOT NULL,
    "connected_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "connections_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "connections_device_id_idx" ON "connections"("device_id");

-- CreateIndex
CREATE INDEX "connections_node_id_idx" ON "connections"("node_id");

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE;
