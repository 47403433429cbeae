import { defineConfig } from "@playwright/test";

/**
 * The browser part of the push benchmark (bench/bench.py runs it; not part of the tests):
 * against a release server that bench.py started with a 60 s poll, at POSTERN_BENCH_URL.
 * Results go to POSTERN_BENCH_OUT as JSON.
 */
export default defineConfig({
  testDir: "./bench",
  workers: 1,
  retries: 0,
  reporter: "list",
  timeout: 300_000,
  use: {
    baseURL: process.env.POSTERN_BENCH_URL,
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run"],
    },
  },
});
