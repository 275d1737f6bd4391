import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts', 'tests/faults/**/*.test.ts'],
    // One PostgreSQL for the whole run; each test makes its own app, user and UID.
    globalSetup: ['tests/support/globalSetup.ts'],
    testTimeout: 30_000,
    // Live deliveries usually take milliseconds, but a busy 2-core machine can stall a second or more.
    expect: { poll: { timeout: 10_000, interval: 50 } },
    hookTimeout: 60_000,
    // Two cores: more workers only contend with the database.
    maxWorkers: 2,
  },
});
