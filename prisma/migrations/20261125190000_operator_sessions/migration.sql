-- CreateTable
CREATE TABLE "operator_sessions" (
    "id_digest" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "operator_sessions_pkey" PRIMARY KEY ("id_digest")
);

-- CreateIndex
CREATE INDEX "ack_log_at_idx" ON "ack_log"("at");
