-- The ack log names the tags a push carried or a retraction took back, so
-- an operator can follow one tag ("call-42") through replaces and retracts.

-- AlterTable
ALTER TABLE "ack_log" ADD COLUMN "tags" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];
