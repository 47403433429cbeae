import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

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
// A third one over HTTPS, for device-bound sessions (tests/dbsc.spec.ts): a self-signed
// certificate made here (scripts/dev-cert.sh), which the "dbsc" project's Chromium trusts by its
// SPKI hash, and a short cookie of 5 s so that refreshes happen within a test.
process.env.POSTERN_E2E_TLS_PORT ||= freePort();
process.env.POSTERN_E2E_CERT_DIR ||= fs.mkdtempSync(path.join(os.tmpdir(), "postern-e2e-cert-"));
const certDir = process.env.POSTERN_E2E_CERT_DIR;
if (!fs.existsSync(path.join(certDir, "spki.txt"))) {
  execFileSync("bash", ["../scripts/dev-cert.sh", certDir], { stdio: ["ignore", "ignore", "inherit"] });
}
const spki = fs.readFileSync(path.join(certDir, "spki.txt"), "utf8").trim();
const tlsPort = process.env.POSTERN_E2E_TLS_PORT;
process.env.POSTERN_E2E_TLS_URL ||= `https://localhost:${tlsPort}`;
/** Chromium's device-bound sessions with software keys (no TPM here), without origin trial or quota. */
const DBSC_FEATURES =
  "--enable-features=DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false/CheckSubdomainRegistration/false," +
  "EnableBoundSessionCredentialsSoftwareKeysForManualTesting,DeviceBoundSessionsDevTools";
const TRUST_TEST_CERTIFICATE = `--ignore-certificate-errors-spki-list=${spki}`;
const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

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
      args: chromiumArgs,
    },
  },
  projects: [
    { name: "chromium", testIgnore: /dbsc\.spec\.ts$/ },
    {
      name: "dbsc",
      testMatch: /dbsc\.spec\.ts$/,
      use: {
        baseURL: process.env.POSTERN_E2E_TLS_URL,
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
          args: [...chromiumArgs, DBSC_FEATURES, TRUST_TEST_CERTIFICATE],
        },
      },
    },
  ],
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
    {
      command: "bash ../scripts/serve-e2e.sh",
      url: `${process.env.POSTERN_E2E_TLS_URL}/healthz`,
      ignoreHTTPSErrors: true,
      env: {
        POSTERN_E2E_PORT: tlsPort,
        POSTERN_E2E_PUBLIC_URL: process.env.POSTERN_E2E_TLS_URL,
        POSTERN_TLS_CERT: path.join(certDir, "cert.pem"),
        POSTERN_TLS_KEY: path.join(certDir, "key.pem"),
        POSTERN_BOUND_COOKIE_SECS: "5",
        POSTERN_E2E_GEOIP: "0",
      },
      reuseExistingServer: !!process.env.POSTERN_REUSE_SERVER,
      timeout: 120_000,
      stdout: "pipe",
    },
  ],
});
