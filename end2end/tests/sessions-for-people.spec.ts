import AxeBuilder from "@axe-core/playwright";
import type { Locator, Page } from "@playwright/test";
import {
  test,
  expect,
  ActivityPage,
  atPath,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  newUser,
  SessionsPage,
  sessionStatus,
  Shell,
  signUp,
} from "./fixtures";

/** A phone: the sessions list shows it with the phone icon. */
const IPHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
/** In the end-to-end server's GeoIP database (end2end/fixtures/geo-test.mmdb): Berlin, Germany. */
const BERLIN_IP = "192.0.2.10";
/** WCAG 2.2 A and AA, as axe-core tags them. */
const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

const lastActive = (row: Locator): Locator => row.locator('td[data-label="Last active"] time');
const loggedIn = (row: Locator): Locator => row.locator('td[data-label="Logged in"] time');

/** Nothing scrolls sideways, and every button of every row is inside the viewport's width and big enough to touch. */
async function expectEveryControlInView(page: Page, sessions: SessionsPage): Promise<void> {
  const width = await page.evaluate(() => window.innerWidth);
  await expect
    .poll(() => page.evaluate(() => document.documentElement.scrollWidth), { message: "no horizontal scroll" })
    .toBeLessThanOrEqual(width);
  const buttons = sessions.table.getByRole("button");
  const count = await buttons.count();
  expect(count, "Rename on every row, End session on the others").toBeGreaterThanOrEqual(7);
  for (let i = 0; i < count; i++) {
    const button = buttons.nth(i);
    await button.scrollIntoViewIfNeeded();
    const box = await button.boundingBox();
    const name = await button.getAttribute("aria-label") ?? await button.innerText();
    expect(box, `${name} is laid out`).not.toBeNull();
    expect(box!.x, `${name} starts inside the viewport`).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width, `${name} ends inside the viewport`).toBeLessThanOrEqual(width);
    expect(box!.width, `${name} is at least 44 px wide`).toBeGreaterThanOrEqual(44);
    expect(box!.height, `${name} is at least 44 px tall`).toBeGreaterThanOrEqual(44);
  }
}

async function expectNoSeriousAxeFindings(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    `axe-core on ${what}`,
  ).toEqual([]);
}

test.describe("Manage Sessions for people", () => {
  test("four sessions: every control in view at 1280 × 720, 360 × 800 and 320 px, and axe finds nothing serious", async ({
    newDevice,
    appLogin,
  }) => {
    const user = newUser();
    const viewer = await newDevice({ viewport: { width: 1280, height: 720 } });
    await signUp(viewer, user);
    await logIn(await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA, extraHTTPHeaders: { "X-Forwarded-For": BERLIN_IP } }), user.email, user.password);
    await logIn(await newDevice({ userAgent: IPHONE_UA, viewport: { width: 390, height: 844 } }), user.email, user.password);
    await appLogin(user.email, user.password, "Pixel 8");
    const sessions = new SessionsPage(viewer);

    for (const [width, height, layout] of [
      [1280, 720, "table-row"],
      [360, 800, "block"],
      [320, 640, "block"],
    ] as const) {
      await test.step(`${width} × ${height}`, async () => {
        await viewer.setViewportSize({ width, height });
        await sessions.goto();
        await expect(sessions.rows).toHaveCount(4);
        // A table where there is room, one card per session below it.
        expect(await sessions.rows.first().evaluate((tr) => getComputedStyle(tr).display)).toBe(layout);
        await expect(sessions.endButtons).toHaveCount(3);
        await expectEveryControlInView(viewer, sessions);
        if (width !== 320) await expectNoSeriousAxeFindings(viewer, `Manage Sessions at ${width} px`);
      });
    }

    await test.step("each device has its icon, named for screen readers", async () => {
      await expect(sessions.row("Firefox on Windows").getByRole("img", { name: "Computer" })).toHaveCount(1);
      await expect(sessions.row("Safari on iPhone").getByRole("img", { name: "Phone" })).toHaveCount(1);
      await expect(sessions.row("Mail app on Pixel 8").getByRole("img", { name: "Mail app" })).toHaveCount(1);
    });

    await test.step("the confirmation dialog passes axe too", async () => {
      await sessions.openEndDialog(sessions.row("Firefox on Windows"));
      await expectNoSeriousAxeFindings(viewer, "the end-session dialog");
      await sessions.dialogCancel.click();
    });
  });

  test('times: "Active now", "2 hours ago" by a moved clock, local time with the exact time and zone in the title', async ({
    newDevice,
  }) => {
    const user = newUser();
    const viewer = await newDevice({ timezoneId: "America/New_York", locale: "en-US" });
    await signUp(viewer, user);
    await logIn(await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA }), user.email, user.password);
    const sessions = new SessionsPage(viewer);
    await sessions.goto();
    const other = sessions.row("Firefox on Windows");

    await expect(lastActive(sessions.currentRow)).toHaveText("Active now");
    await expect(lastActive(other)).toHaveText("Active now");
    // Logged in: the browser's zone and locale, no longer the server's UTC text.
    await expect(loggedIn(other)).not.toContainText("UTC");
    await expect(loggedIn(other)).toHaveText(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s?[AP]M$/);
    await expect(loggedIn(other)).toHaveAttribute("title", /\d{1,2}:\d{2}:\d{2}\s?[AP]M (EST|EDT)$/);
    await expect(loggedIn(other)).toHaveAttribute("datetime", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Two hours on, by this browser's clock: the other session has not been used since.
    await viewer.clock.setFixedTime(Date.now() + 2 * 3_600_000 + 60_000);
    await sessions.goto();
    await expect(lastActive(other)).toHaveText("2 hours ago");
    await expect(lastActive(sessions.currentRow)).toHaveText("Active now", { timeout: 1_000 });
  });

  test("without JavaScript the times stay UTC, and say so", async ({ newDevice }) => {
    const user = newUser();
    const noJs = await newDevice({ javaScriptEnabled: false });
    await signUp(noJs, user, { js: false });
    const sessions = new SessionsPage(noJs, { js: false });
    await sessions.goto();
    await expect(loggedIn(sessions.currentRow)).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    await expect(loggedIn(sessions.currentRow)).toHaveAttribute("title", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  });

  test("Rename: the name shows in the list and the activity log; bad names are refused; another account's session is not found", async ({
    newDevice,
    appLogin,
    allowConsoleError,
  }) => {
    // The refused names (400) and the stranger's attempt (404) are answers the test asks for.
    allowConsoleError(/status of 400/);
    allowConsoleError(/status of 404/);
    const user = newUser();
    const viewer = await newDevice();
    await signUp(viewer, user);
    await logIn(await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA }), user.email, user.password);
    const sessions = new SessionsPage(viewer);
    await sessions.goto();

    const rename = async (row: Locator, name: string): Promise<Locator> => {
      await row.getByRole("button", { name: "Rename", exact: true }).click();
      const field = row.getByLabel("Device name", { exact: true });
      await expect(field).toBeFocused();
      await field.fill(name);
      await row.getByRole("button", { name: "Save", exact: true }).click();
      return field;
    };

    await test.step("a new name replaces the device, which stays beneath it", async () => {
      await rename(sessions.row("Firefox on Windows"), "Work laptop");
      const renamed = sessions.row("Work laptop");
      await expect(renamed).toHaveCount(1);
      await expect(renamed.locator(".device")).toHaveText("Work laptop");
      await expect(renamed.locator(".parsed-device")).toHaveText("Firefox on Windows");
      await expect(renamed.getByLabel("Device name")).toHaveCount(0);
      // The reader is back where they started: on the session's "Rename" button.
      await expect(renamed.getByRole("button", { name: "Rename", exact: true })).toBeFocused();
    });

    await test.step("the current session can be renamed too", async () => {
      await rename(sessions.currentRow, "My desk");
      await expect(sessions.currentRow.locator(".device")).toHaveText("My desk");
    });

    await test.step("65 characters, or a bidi override, are refused with a message and change nothing", async () => {
      const row = sessions.row("Work laptop");
      for (const bad of ["x".repeat(65), "laptop\u202Egnp.exe"]) {
        const field = await rename(row, bad);
        await expect(row.getByRole("alert")).toBeVisible();
        await expect(field).toBeVisible();
        await row.getByRole("button", { name: "Cancel", exact: true }).click();
        await expect(row.getByRole("button", { name: "Rename", exact: true })).toBeFocused();
        await sessions.goto();
        await expect(sessions.row("Work laptop").locator(".device")).toHaveText("Work laptop");
      }
    });

    await test.step("the activity log names it, and records the rename", async () => {
      const activity = new ActivityPage(viewer);
      await activity.goto();
      await expect(activity.rowsOf("Logged in", "Work laptop")).toHaveCount(1);
      await expect(activity.rows.filter({ hasText: "Session renamed: Work laptop" })).toHaveCount(1);
    });

    await test.step("an empty name restores the parsed device", async () => {
      await sessions.goto();
      await rename(sessions.row("Work laptop"), "");
      await expect(sessions.row("Firefox on Windows").locator(".device")).toHaveText("Firefox on Windows");
      await expect(sessions.row("Firefox on Windows").locator(".parsed-device")).toHaveCount(0);
    });

    await test.step("another account cannot rename it: 404 from the page's server function and the API", async () => {
      const id = await sessions.currentRow.locator('input[name="id"]').first().inputValue();
      const stranger = newUser();
      const strangerPage = await newDevice();
      await signUp(strangerPage, stranger);
      const status = await strangerPage.evaluate(async (id) => {
        const body = new URLSearchParams({ id, device_name: "Mine now" });
        return (await fetch("/api/fn/rename_session", { method: "POST", body })).status;
      }, id);
      expect(status).toBe(404);
      const app = await appLogin(stranger.email, stranger.password, "Pixel 8");
      const answer = await app.call("PATCH", `/api/v1/sessions/${id}`, { device_name: "Mine now" });
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ error: "not_found" });
      await sessions.goto();
      await expect(sessions.currentRow.locator(".device")).toHaveText("My desk");
    });
  });

  test("the API renames, and its session objects carry the name and the parsed device", async ({ newDevice, appLogin }) => {
    const user = newUser();
    await signUp(await newDevice(), user);
    const app = await appLogin(user.email, user.password, "Pixel 8");
    const me = await app.call("GET", "/api/v1/me");
    const id = me.body.session_id as string;
    expect((await app.call("PATCH", `/api/v1/sessions/${id}`, { device_name: "Ada's phone" })).status).toBe(204);
    const list = await app.call("GET", "/api/v1/sessions");
    const mine = (list.body as unknown as Array<Record<string, unknown>>).find((s) => s.id === id);
    expect(mine).toMatchObject({ device: "Ada's phone", parsed_device: "Mail app on Pixel 8", location: "Local network" });
    const refused = await app.call("PATCH", `/api/v1/sessions/${id}`, { device_name: "x".repeat(65) });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ field: "device_name" });
  });

  test('location: a documentation address in the test database shows its city, loopback "Local network"', async ({
    newDevice,
  }) => {
    const user = newUser();
    const viewer = await newDevice();
    await signUp(viewer, user);
    await logIn(
      await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA, extraHTTPHeaders: { "X-Forwarded-For": BERLIN_IP } }),
      user.email,
      user.password,
    );
    const sessions = new SessionsPage(viewer);
    await sessions.goto();
    const berlin = sessions.row("Firefox on Windows");
    await expect(berlin.locator("td.where")).toContainText(BERLIN_IP);
    await expect(berlin.locator(".location")).toHaveText("near Berlin, Germany");
    await expect(sessions.currentRow.locator(".location")).toHaveText("Local network");

    // The new-login message and the activity log say where too.
    const activity = new ActivityPage(viewer);
    await activity.goto();
    await expect(activity.rowsOf("Logged in", "Firefox on Windows")).toContainText("near Berlin, Germany");
    await viewer.goto("/");
    await viewer.getByRole("link", { name: /New login to your account/ }).first().click();
    await expect(viewer.getByRole("main")).toContainText("near Berlin, Germany");
  });

  test("without a GeoIP database nothing is shown, and nothing breaks", async ({ newDevice }) => {
    const pushUrl = process.env.POSTERN_E2E_PUSH_URL!;
    const user = newUser();
    const viewer = await newDevice({ baseURL: pushUrl });
    await signUp(viewer, user);
    const sessions = new SessionsPage(viewer);
    await sessions.goto();
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.currentRow.locator("td.where")).toContainText("127.0.0.1");
    await expect(sessions.table.locator(".location")).toHaveCount(0);
  });

  test("without JavaScript: end a session through the confirmation page; the ended browser is logged out on its next request", async ({
    newDevice,
  }) => {
    const user = newUser();
    const noJs = await newDevice({ javaScriptEnabled: false });
    await signUp(noJs, user, { js: false });
    const other = await newDevice({ javaScriptEnabled: false, userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(other, user.email, user.password, { js: false });
    const sessions = new SessionsPage(noJs, { js: false });
    await sessions.goto();
    await expect(sessions.rows).toHaveCount(2);

    await test.step("Cancel goes back and ends nothing", async () => {
      await sessions.endButton(sessions.row("Firefox on Windows")).click();
      await expect(noJs).toHaveURL(atPath("/settings/sessions/end"));
      await noJs.getByRole("button", { name: "Cancel", exact: true }).click();
      await expect(noJs).toHaveURL(atPath("/settings/sessions"));
      await expect(sessions.rows).toHaveCount(2);
    });

    await test.step("OK ends it", async () => {
      await sessions.endButton(sessions.row("Firefox on Windows")).click();
      await expect(noJs.getByRole("heading", { level: 1, name: "End this session?" })).toBeVisible();
      await expect(noJs.getByRole("main")).toContainText(
        "Firefox on Windows will be logged out. It can log in again with your password.",
      );
      await noJs.getByRole("button", { name: "OK", exact: true }).click();
      await expect(noJs).toHaveURL(atPath("/settings/sessions"));
      await expect(sessions.rows).toHaveCount(1);
      await expect(sessions.endedRow("Firefox on Windows")).toHaveCount(1);
    });

    await test.step("the ended browser's next request is not logged in", async () => {
      expect(await sessionStatus(other)).toEqual({ state: "ended", reason: "ended_by_user" });
      await other.goto("/settings/sessions");
      await expect(new Shell(other, { js: false }).logOutButton).toHaveCount(0);
      await expect(other.getByRole("heading", { name: "Manage Sessions" })).toHaveCount(0);
    });

    await test.step('"Rename" works as a plain form', async () => {
      await sessions.goto();
      await sessions.currentRow.getByRole("button", { name: "Rename", exact: true }).click();
      await expect(noJs).toHaveURL(atPath("/settings/sessions/rename"));
      await noJs.getByLabel("Device name", { exact: true }).fill("Old laptop");
      await noJs.getByRole("button", { name: "Save", exact: true }).click();
      await expect(noJs).toHaveURL(atPath("/settings/sessions"));
      await expect(sessions.currentRow.locator(".device")).toHaveText("Old laptop");
      // A refused name comes back on the rename page with its message, and nothing changes.
      await sessions.currentRow.getByRole("button", { name: "Rename", exact: true }).click();
      await noJs.getByLabel("Device name", { exact: true }).fill("x".repeat(65));
      await noJs.getByRole("button", { name: "Save", exact: true }).click();
      await expect(noJs.getByRole("alert")).toContainText("64");
      await sessions.goto();
      await expect(sessions.currentRow.locator(".device")).toHaveText("Old laptop");
    });
  });
});
