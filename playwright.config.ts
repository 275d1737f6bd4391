import { defineConfig } from '@playwright/test';

// One server for the whole run (tests/e2e/globalSetup.ts starts it on this
// port). Set here so the workers, which load this file again, agree on it.
process.env.PRESENCE_E2E_PORT ??= String(40_000 + Math.floor(Math.random() * 10_000));
process.env.PRESENCE_E2E_ADMIN_TOKEN ??= `prs_adm_e2e-${Date.now().toString(36)}-operator-token`;

export default defineConfig({
  testDir: 'tests/e2e',
  globalSetup: './tests/e2e/globalSetup.ts',
  // The tests share one server and watch live pages: run them one at a time.
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  outputDir: 'test-results/playwright',
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${process.env.PRESENCE_E2E_PORT}`,
    // Playwright cannot download its own browser here: Debian's Chromium.
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
    trace: 'retain-on-failure',
  },
});
