import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";

/**
 * Playwright configuration for Postern's end-to-end tests.
 *
 * The server is started by `../scripts/serve-e2e.sh` (session poll interval
 * 1000 ms for tests) on 127.0.0.1:POSTERN_E2E_PORT; without that variable a
 * free port is taken, so the tests also run while the app serves on :3000.
 * A second one, polling every 60 s, serves the push tests on
 * POSTERN_E2E_PUSH_PORT (also free if unset).
 * Set POSTERN_REUSE_SERVER=1 to test against a server that is already running
 * (on POSTERN_E2E_PORT, or at POSTERN_BASE_URL), POSTERN_BASE_URL to point
 * somewhere else and CHROMIUM_PATH to use another Chromium binary.
 */
/** A free loopback port, asked of the operating system. */
function freePort(): string {
  return execFileSync("python3", [
    "-c",
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])',
  ])
    .toString()
    .trim();
}
// Chosen once, in the main process: the workers it starts inherit the variables, so they all
// agree on the ports (this file is evaluated again in each of them).
process.env.POSTERN_E2E_PORT ||= freePort();
process.env.POSTERN_E2E_PUSH_PORT ||= freePort();
const port = process.env.POSTERN_E2E_PORT;
const baseURL = process.env.POSTERN_BASE_URL || `http://127.0.0.1:${port}`;
// A second server whose pages poll only once a minute, so that only the push can explain a
// notice that shows within seconds (tests/push.spec.ts reads this variable).
const pushPort = process.env.POSTERN_E2E_PUSH_PORT;
process.env.POSTERN_E2E_PUSH_URL ||= `http://127.0.0.1:${pushPort}`;

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
  webServer: [
    {
      command: "bash ../scripts/serve-e2e.sh",
      url: `${baseURL}/healthz`,
      env: { POSTERN_E2E_PORT: port },
      reuseExistingServer: !!process.env.POSTERN_REUSE_SERVER,
      timeout: 120_000,
      stdout: "pipe",
    },
    {
      command: "bash ../scripts/serve-e2e.sh",
      url: `${process.env.POSTERN_E2E_PUSH_URL}/healthz`,
      // Logs as JSON: scripts/check-logs.sh then checks a JSON log too.
      // And has no GeoIP database: tests/sessions-for-people.spec.ts checks nothing is shown then.
      env: { POSTERN_E2E_PORT: pushPort, POSTERN_POLL_INTERVAL_MS: "60000", POSTERN_LOG_FORMAT: "json", POSTERN_E2E_GEOIP: "0" },
      reuseExistingServer: !!process.env.POSTERN_REUSE_SERVER,
      timeout: 120_000,
      stdout: "pipe",
    },
  ],
});
