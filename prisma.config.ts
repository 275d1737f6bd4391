// Used by the Prisma CLI only (generate; migrate status for operators with
// internet access). The service applies migrations itself: src/server/platform/db/migrate.ts.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/presence' },
});
