-- A session remembers (as a digest) the operator token it was opened with, so
-- a node that starts with another token can end it. Sessions opened before
-- this column existed cannot say which token opened them: they end here.
DELETE FROM "operator_sessions";

-- AlterTable
ALTER TABLE "operator_sessions" ADD COLUMN "token_digest" BYTEA NOT NULL;
