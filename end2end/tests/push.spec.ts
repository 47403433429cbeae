import {
  test,
  expect,
  autoLogoutNotice,
  EVENTS_PATH,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  newUser,
  SessionsPage,
  sessionStatus,
  signUp,
  StreamCounter,
  waitForHydration,
} from "./fixtures";

// The server of these tests polls once a minute (playwright.config.ts): a notice within seconds
// can only have come through the event stream.
test.use({ baseURL: process.env.POSTERN_E2E_PUSH_URL });

test.describe("instant push", () => {
  test("the ended device shows the notice within 2 s, with polling at 60 s", async ({ page, newDevice }) => {
    const user = newUser();
    await signUp(page, user);
    const laptop = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    const streaming = laptop.waitForResponse((r) => new URL(r.url()).pathname === EVENTS_PATH);
    await logIn(laptop, user.email, user.password);
    const stream = await streaming;
    expect(stream.status()).toBe(200);
    expect(stream.headers()["content-type"]).toBe("text/event-stream");
    await expect(autoLogoutNotice(laptop)).toHaveCount(0);

    const sessions = new SessionsPage(page);
    await sessions.goto();
    await sessions.endSession(sessions.row(/Firefox/));
    const ended = Date.now();
    await expect(autoLogoutNotice(laptop)).toBeVisible({ timeout: 2_000 });
    console.log(`notice ${Date.now() - ended} ms after the end was confirmed`);
    await expect(laptop.getByText("This session was ended from another device")).toBeVisible();
    expect(await sessionStatus(laptop)).toEqual({ state: "ended", reason: "ended_by_user" });
  });

  test("three tabs of one browser hold one stream, and closing its tab hands it over", async ({
    page,
    newDevice,
  }) => {
    const counter = new StreamCounter(page.context());
    const user = newUser();
    await signUp(page, user);
    const tabs = [page];
    for (const path of ["/settings/sessions", "/account"]) {
      const tab = await page.context().newPage();
      await tab.goto(path);
      await waitForHydration(tab);
      tabs.push(tab);
    }
    await expect.poll(() => counter.count()).toBe(1);
    // Give a second stream the chance to (wrongly) open.
    await page.waitForTimeout(1_500);
    expect(counter.count()).toBe(1);

    const holder = counter.holders()[0];
    await holder.close();
    const others = tabs.filter((t) => t !== holder);
    // Another tab takes the lock at once and opens the stream.
    await expect.poll(() => counter.count(), { timeout: 3_000 }).toBe(1);
    expect(others).toContain(counter.holders()[0]);

    // The new holder relays the end to the other tab.
    const phone = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(phone, user.email, user.password);
    const sessions = new SessionsPage(phone);
    await sessions.goto();
    await sessions.endSession(sessions.row(/Chrome/));
    for (const tab of others) {
      await expect(autoLogoutNotice(tab)).toBeVisible({ timeout: 2_000 });
    }
  });

  test("a login elsewhere updates the open session list and the Inbox count at once", async ({ page, newDevice }) => {
    const user = newUser();
    await signUp(page, user);
    const sessions = new SessionsPage(page);
    await sessions.goto();
    await expect(sessions.row(/Firefox/)).toHaveCount(0);
    const inbox = page.getByRole("navigation", { name: "Mail folders" }).getByRole("link", { name: /Inbox/ });
    await expect(inbox).toHaveAccessibleName("Inbox");

    const laptop = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(laptop, user.email, user.password);
    await expect(sessions.row(/Firefox/)).toHaveCount(1, { timeout: 2_000 });
    await expect(inbox).toHaveAccessibleName(/Inbox\s*1\s*unread/, { timeout: 2_000 });
  });
});
