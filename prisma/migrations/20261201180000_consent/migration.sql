-- Consent: apps register the exact URIs the grant page may send a browser
-- back to; the grant page keeps a user's sign-in in a session (cookie secret
-- stored as a SHA-256 digest) and issues one-time codes (digests too) that an
-- app exchanges, with its key, for the user's UID.

-- AlterTable
ALTER TABLE "apps" ADD COLUMN "redirect_uris" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];

-- CreateTable
CREATE TABLE "user_sessions" (
    "id_digest" BYTEA NOT NULL,
    "user_id" UUID NOT NULL,
    "device_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "user_sessions_pkey" PRIMARY KEY ("id_digest")
);

-- CreateTable
CREATE TABLE "grant_codes" (
    "id" UUID NOT NULL,
    "code_digest" BYTEA NOT NULL,
    "app_id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),

    CONSTRAINT "grant_codes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "user_sessions_user_id_idx" ON "user_sessions"("user_id");

-- CreateIndex
CREATE INDEX "user_sessions_device_id_idx" ON "user_sessions"("device_id");

-- CreateIndex
CREATE UNIQUE INDEX "grant_codes_code_digest_key" ON "grant_codes"("code_digest");

-- CreateIndex
CREATE INDEX "grant_codes_app_id_idx" ON "grant_codes"("app_id");

-- CreateIndex
CREATE INDEX "grant_codes_user_id_idx" ON "grant_codes"("user_id");

-- AddForeignKey
ALTER TABLE "user_sessions" ADD CONSTRAINT "user_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_sessions" ADD CONSTRAINT "user_sessions_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "grant_codes" ADD CONSTRAINT "grant_codes_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "grant_codes" ADD CONSTRAINT "grant_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
