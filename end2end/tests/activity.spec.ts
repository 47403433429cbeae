import {
  test,
  expect,
  CURRENT_SESSION_TEXT,
  expectAutoLogoutNotice,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  LoginPage,
  newUser,
  ActivityPage,
  sessionStatus,
  Shell,
  signUp,
  atPath,
  waitForHydration,
} from "./fixtures";

test.describe("Security activity", () => {
  test('shows "Logged in" and "Login failed" after a wrong password; the filter narrows it', async ({
    page,
    newDevice,
    allowConsoleError,
  }) => {
    // The wrong password answers 401.
    allowConsoleError(/status of 401/);
    const user = newUser();
    const shell = await signUp(page, user);

    // Someone on a Firefox tries a wrong password, then the right one.
    const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    const login = new LoginPage(deviceB);
    await login.goto();
    await login.expectRejected(user.email, "Wrong-Password-Entirely-77");
    await login.fill(user.email, user.password);
    await login.submit();
    await expect(deviceB).toHaveURL(atPath("/"));
    await waitForHydration(deviceB);

    // Settings → Security activity.
    await shell.goto();
    await shell.openSettings();
    const activity = await shell.openSecurityActivity();

    await test.step("columns, and the events newest first", async () => {
      for (const column of ["When", "What", "Device", "IP address"]) {
        await expect(activity.columnHeader(column)).toBeVisible();
      }
      await expect.poll(() => activity.whatWords()).toContain("Login failed");
      const words = await activity.whatWords();
      expect(words).toContain("Logged in");
      expect(words).toContain("Account created");
      // B's successful login came after its failed one.
      expect(words.slice(0, 2)).toEqual(["Logged in", "Login failed"]);
      await expect(activity.rowsOf("Login failed", "Firefox on Windows")).toHaveCount(1);
      await expect(activity.rowsOf("Logged in", "Firefox on Windows")).toHaveCount(1);
    });

    await test.step('the "Show" filter offers its five choices', async () => {
      await expect(activity.show.locator("option")).toHaveText([
        "All",
        "Logins",
        "Failed attempts",
        "Ended sessions",
        "Password and auto-login",
      ]);
      await expect(activity.downloadLink).toHaveAttribute("href", /\/settings\/activity\.csv\?show=all$/);
    });

    await test.step('"Failed attempts" shows the failed login and no "Logged in"', async () => {
      await activity.applyFilter("failed");
      await expect(activity.show).toHaveValue("failed");
      await expect.poll(() => activity.whatWords()).toContain("Login failed");
      const words = await activity.whatWords();
      expect(words).not.toContain("Logged in");
      for (const word of words) expect(["Login failed", "Password check failed"]).toContain(word);
      await expect(activity.rows.filter({ hasText: "Logged in" })).toHaveCount(0);
      await expect(activity.downloadLink).toHaveAttribute("href", /\/settings\/activity\.csv\?show=failed$/);
    });

    await test.step('"Logins" shows the logins and no failure', async () => {
      await activity.applyFilter("logins");
      await expect(activity.show).toHaveValue("logins");
      await expect.poll(() => activity.whatWords()).toContain("Logged in");
      expect(await activity.whatWords()).not.toContain("Login failed");
    });

    await test.step('"All" again', async () => {
      await activity.applyFilter("all");
      const words = await activity.whatWords();
      expect(words).toContain("Logged in");
      expect(words).toContain("Login failed");
    });
  });

  test('"End this session" on a "Logged in" row ends that session', async ({ page, newDevice }) => {
    const user = newUser();
    const shell = await signUp(page, user);
    // Log in again here, so that this browser's own session has a "Logged in" row.
    await shell.logOut();
    await logIn(page, user.email, user.password);
    const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(deviceB, user.email, user.password);

    const activity = new ActivityPage(page);
    await activity.goto();

    const rowB = activity.rowsOf("Logged in", "Firefox on Windows");
    await test.step("only the other active session's row has the button; this one says so", async () => {
      await expect(rowB).toHaveCount(1);
      await expect(rowB.getByRole("button", { name: "End this session", exact: true })).toBeVisible();
      // The ended sign-up session and this one have none.
      await expect(activity.endButtons).toHaveCount(1);
      const current = activity.rows.filter({ hasText: CURRENT_SESSION_TEXT });
      await expect(current).toHaveCount(1);
      await expect(current).toContainText("Logged in");
      await expect(current.getByRole("button")).toHaveCount(0);
    });

    const endB = rowB.getByRole("button", { name: "End this session", exact: true });

    await test.step("Cancel keeps it", async () => {
      await endB.click();
      await expect(activity.dialog).toBeVisible();
      await expect(activity.dialog.getByRole("heading", { name: "End this session?", exact: true })).toBeVisible();
      await activity.dialogCancel.click();
      await expect(activity.dialog).toBeHidden();
      expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    });

    await test.step("OK ends it: the page reloads without the button", async () => {
      await endB.click();
      await expect(activity.dialog).toBeVisible();
      await activity.dialogOk.click();
      await expect(activity.endButtons).toHaveCount(0);
      await expect(rowB).toHaveCount(1);
      await expect.poll(() => activity.whatWords()).toContain("Session ended");
    });

    await test.step("B notices by itself; this browser goes on", async () => {
      await expectAutoLogoutNotice(deviceB);
      expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "ended_by_user" });
      await activity.settle();
      await new Shell(page).expectStillLoggedInAfterReload(user);
    });
  });
});
