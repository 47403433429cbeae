import { chromium, type BrowserContext, type CDPSession, type Page } from "@playwright/test";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  test,
  expect,
  ActivityPage,
  expectAutoLogoutNotice,
  logIn,
  newUser,
  SessionsPage,
  signUp,
} from "./fixtures";

/**
 * Device-bound sessions (DBSC) in Debian's Chromium with software keys, against the HTTPS test
 * server (playwright.config.ts, project "dbsc": short cookie of 5 s). Chromium reports what it
 * does over the DevTools protocol: a renamed flag fails these tests loudly instead of testing
 * nothing.
 */

type DbscEvent = {
  succeeded: boolean;
  sessionId?: string;
  creationEventDetails?: { fetchResult: string };
  refreshEventDetails?: { refreshResult: string };
  terminationEventDetails?: { deletionReason: string };
  challengeEventDetails?: { challengeResult: string };
};

/** Chromium's device-bound-session events of `page`'s browser context, as they happen. */
async function watchDbsc(page: Page): Promise<DbscEvent[]> {
  const events: DbscEvent[] = [];
  const cdp: CDPSession = await page.context().newCDPSession(page);
  cdp.on("Network.deviceBoundSessionEventOccurred" as never, (event: DbscEvent) => events.push(event));
  await cdp.send("Network.enable");
  await cdp.send("Network.enableDeviceBoundSessions" as never, { enable: true } as never);
  return events;
}

/** The "dbsc" test server's `POSTERN_BOUND_COOKIE_SECS` (playwright.config.ts). */
const BOUND_COOKIE_MS = 5_000;

const registered = (events: DbscEvent[]) =>
  events.some((e) => e.succeeded && e.creationEventDetails?.fetchResult === "Success");
const refreshes = (events: DbscEvent[]) =>
  events.filter((e) => e.succeeded && e.refreshEventDetails?.refreshResult === "Refreshed").length;

/** The page's own session id (the hidden field of its "Rename" form on Manage Sessions). */
async function currentSessionId(sessions: SessionsPage): Promise<string> {
  await sessions.goto();
  return sessions.currentRow.locator('input[name="id"]').first().inputValue();
}

/** An ES256 key of a thief's own, and a DBSC refresh proof signed with it. */
function thiefProof(challenge: string): string {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${b64({ alg: "ES256", typ: "dbsc+jwt" })}.${b64({ jti: challenge })}`;
  const signature = crypto.sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

test.describe("device-bound sessions", () => {
  test("a login registers, Manage Sessions shows Device-bound, and the browser refreshes by itself across several lifetimes", async ({
    page,
  }) => {
    const events = await watchDbsc(page);
    await signUp(page, newUser());
    await expect
      .poll(() => registered(events), { message: "Chromium registered the session (CDP creation event)" })
      .toBe(true);

    const sessions = new SessionsPage(page);
    await sessions.goto();
    const badge = sessions.currentRow.getByText("Device-bound", { exact: true });
    await expect(badge).toBeVisible();
    await expect(badge).toHaveAttribute("title", /only work on the device that holds its key/);

    // Three lifetimes of the short cookie (5 s each, the "dbsc" server's setting): every page load
    // stays logged in, because Chromium proves possession of the key before the cookie runs out
    // (with so short a cookie, before every request: "proactive" refreshes).
    const start = Date.now();
    await expect
      .poll(
        async () => {
          await sessions.goto();
          await expect(sessions.heading).toBeVisible();
          await expect(sessions.currentRow.getByText("Device-bound", { exact: true })).toBeVisible();
          return refreshes(events) >= 3 && Date.now() - start > 3 * BOUND_COOKIE_MS;
        },
        { message: "logged in across three lifetimes, refreshed by Chromium", timeout: 45_000, intervals: [1_000] },
      )
      .toBe(true);
  });

  test("stolen cookies stop working with the short cookie; the thief's refresh is refused and logged; the owner stays in", async ({
    page,
    browser,
    baseURL,
  }) => {
    const events = await watchDbsc(page);
    await signUp(page, newUser());
    await expect.poll(() => registered(events), { message: "registered" }).toBe(true);
    const sessions = new SessionsPage(page);
    const sessionId = await currentSessionId(sessions);

    // The thief: a fresh context (no key) with every cookie of the owner's browser.
    // (Its own HTTP client, for the requests the test makes as the thief, trusts the test certificate.)
    const thief: BrowserContext = await browser.newContext({ baseURL, ignoreHTTPSErrors: true });
    await thief.addCookies(await page.context().cookies());
    const thiefPage = await thief.newPage();
    // Within the short cookie's lifetime the copy may still work; after it, never again.
    await expect
      .poll(
        async () => {
          await thiefPage.goto("/settings/sessions");
          return new URL(thiefPage.url()).pathname;
        },
        { message: "the copied cookies are logged out once the short cookie expires", timeout: 20_000, intervals: [1_000] },
      )
      .toBe("/login");
    const poll = await thief.request.get("/api/session/status");
    expect(await poll.json()).toEqual({ state: "none" });

    // The thief tries the refresh himself, with a key of his own: refused.
    const origin = { Origin: baseURL!, "Sec-Secure-Session-Id": sessionId };
    const ask = await thief.request.post("/dbsc/refresh", { headers: origin });
    expect(ask.status()).toBe(403);
    const challenge = /^"([^"]+)"/.exec(ask.headers()["secure-session-challenge"] ?? "")?.[1];
    expect(challenge, "a challenge to sign").toBeTruthy();
    const forged = await thief.request.post("/dbsc/refresh", {
      headers: { ...origin, "Secure-Session-Response": thiefProof(challenge!) },
    });
    expect(forged.status()).toBe(403);
    await thiefPage.goto("/settings/sessions");
    await expect(thiefPage).toHaveURL(/\/login$/);

    // The owner is still logged in, and sees the failed check.
    const activity = new ActivityPage(page);
    await activity.goto();
    await expect(activity.rows.filter({ hasText: "Device check failed" })).not.toHaveCount(0);
    await thief.close();
  });

  test('ending a bound session from another device: its next refresh gets "continue": false, and it shows the notice', async ({
    page,
    newDevice,
  }) => {
    const events = await watchDbsc(page);
    const user = newUser();
    await signUp(page, user);
    await expect.poll(() => registered(events), { message: "registered" }).toBe(true);
    const sessionId = await currentSessionId(new SessionsPage(page));

    const other = await newDevice();
    await logIn(other, user.email, user.password);
    const othersList = new SessionsPage(other);
    await othersList.goto();
    await othersList.endSession(othersList.otherRows);

    await expectAutoLogoutNotice(page);
    // The next time the short cookie is due, the server tells Chromium to drop the session.
    await page.goto("/login");
    await expect
      .poll(
        async () => {
          await page.goto("/login");
          return events.some((e) => e.terminationEventDetails?.deletionReason === "ServerRequested");
        },
        { message: "Chromium was told to end the device-bound session", timeout: 20_000, intervals: [1_000] },
      )
      .toBe(true);
    expect(events.find((e) => e.terminationEventDetails)?.sessionId ?? sessionId).toBe(sessionId);
  });

  test("a browser without the flags logs in, is not bound, and everything works as before", async ({ baseURL }) => {
    const spki = fs.readFileSync(path.join(process.env.POSTERN_E2E_CERT_DIR!, "spki.txt"), "utf8").trim();
    const plain = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", `--ignore-certificate-errors-spki-list=${spki}`],
    });
    try {
      const context = await plain.newContext({ baseURL, ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const user = newUser();
      await signUp(page, user);
      const sessions = new SessionsPage(page);
      await sessions.goto();
      await expect(sessions.rows).toHaveCount(1);
      await expect(sessions.table.getByText("Device-bound")).toHaveCount(0);
      // Its session cookie alone keeps it logged in: nothing else is asked of it.
      const status = await context.request.get("/api/session/status");
      expect((await status.json()).state).toBe("active");
      await page.reload();
      await expect(sessions.heading).toBeVisible();
    } finally {
      await plain.close();
    }
  });
});
