import {
  test,
  expect,
  atPath,
  autoLogoutNotice,
  expectAutoLogoutNotice,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  logInAgainLink,
  LoginPage,
  newUser,
  SessionsPage,
  sessionStatus,
  Shell,
  signUp,
  waitForHydration,
} from "./fixtures";

test.describe("automatic-logout notice", () => {
  for (const path of ["/settings/sessions", "/settings/password", "/account/security"]) {
    test(`shows on ${path} when the session is ended elsewhere`, async ({ page, newDevice, allowConsoleError }) => {
      if (path === "/settings/sessions") {
        // The ended page's own list refresh may be refused with 401 before the notice shows.
        allowConsoleError(/status of 401/);
      }
      const user = newUser();
      await signUp(page, user);
      const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
      await logIn(deviceB, user.email, user.password);
      await deviceB.goto(path);
      await waitForHydration(deviceB);
      await expect(autoLogoutNotice(deviceB)).toHaveCount(0);

      const sessions = new SessionsPage(page);
      await sessions.goto();
      await sessions.endSession(sessions.row(/Firefox/));

      await expectAutoLogoutNotice(deviceB);
      expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "ended_by_user" });

      // "Log in again" leads to the login page, and logging in works.
      await logInAgainLink(deviceB).click();
      const login = new LoginPage(deviceB);
      await login.expectShown();
      await login.settle();
      await login.fill(user.email, user.password);
      await login.submit();
      await expect(deviceB).toHaveURL(atPath("/"));
      await waitForHydration(deviceB);
      await new Shell(deviceB).expectLoggedIn(user);
    });
  }

  test("a plain log out shows no notice", async ({ page }) => {
    const user = newUser();
    const shell = await signUp(page, user);
    await shell.logOut();
    await new LoginPage(page).expectShown();
    // Give a poll or two the chance to (wrongly) show the notice.
    await page.waitForTimeout(2_500);
    await expect(autoLogoutNotice(page)).toHaveCount(0);
    expect((await sessionStatus(page)).state).not.toBe("active");
  });
});

test.describe("GET /api/session/status", () => {
  test("answers none without a session and active with one", async ({ page, request }) => {
    const anonymous = await request.get("/api/session/status");
    expect(anonymous.status()).toBe(200);
    expect(await anonymous.json()).toEqual({ state: "none" });

    await signUp(page, newUser());
    expect(await sessionStatus(page)).toMatchObject({ state: "active" });
  });
});
