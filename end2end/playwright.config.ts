import { defineConfig } from "@playwright/test";

/**
 * Playwright configuration for Postern's end-to-end tests.
 *
 * The server is started by `../scripts/serve-e2e.sh` (session poll interval
 * 1000 ms for tests). Set POSTERN_REUSE_SERVER=1 to test against a server that
 * is already running, POSTERN_BASE_URL to point somewhere else and
 * CHROMIUM_PATH to use another Chromium binary.
 */
const baseURL = process.env.POSTERN_BASE_URL || "http://127.0.0.1:3000";

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: "list",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  forbidOnly: !!process.env.CI,
  use: {
    baseURL,
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: "bash ../scripts/serve-e2e.sh",
    url: "http://127.0.0.1:3000/healthz",
    reuseExistingServer: !!process.env.POSTERN_REUSE_SERVER,
    timeout: 120_000,
    stdout: "pipe",
  },
});
