-- One-time pairing codes: a signed-in device issues one, a new device
-- exchanges it for a token of the same user. Stored as SHA-256 digests.

-- CreateTable
CREATE TABLE "pairing_codes" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "code_digest" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),

    CONSTRAINT "pairing_codes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "pairing_codes_code_digest_key" ON "pairing_codes"("code_digest");

-- CreateIndex
CREATE INDEX "pairing_codes_user_id_idx" ON "pairing_codes"("user_id");

-- AddForeignKey
ALTER TABLE "pairing_codes" ADD CONSTRAINT "pairing_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
