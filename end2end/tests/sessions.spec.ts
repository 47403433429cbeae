import {
  test,
  expect,
  CURRENT_SESSION_TEXT,
  expectAutoLogoutNotice,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  newUser,
  SessionsPage,
  sessionStatus,
  Shell,
  signUp,
} from "./fixtures";

test.describe("Manage Sessions", () => {
  test("three devices: list, cancel, Escape, end one session", async ({ page, newDevice }) => {
    const user = newUser();
    // Device A: this browser.
    const shell = await signUp(page, user);
    // Device B reports itself as Firefox so that its row can be told apart.
    const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(deviceB, user.email, user.password);
    // Device C: another Chromium.
    const deviceC = await newDevice();
    await logIn(deviceC, user.email, user.password);

    // Shell → Settings → Manage Sessions.
    await shell.openSettings();
    const sessions = await shell.openManageSessions();

    for (const column of ["Device", "IP address", "Logged in", "Last active"]) {
      await expect(sessions.columnHeader(column)).toBeVisible();
    }
    await expect(sessions.rows).toHaveCount(3);
    await expect(sessions.currentRow).toHaveCount(1);
    await expect(sessions.endButton(sessions.currentRow)).toHaveCount(0);
    await expect(sessions.endButtons).toHaveCount(2);
    await expect(sessions.otherRows).toHaveCount(2);
    for (const row of await sessions.otherRows.all()) {
      await expect(sessions.endButton(row)).toHaveCount(1);
    }

    const rowB = sessions.row(/Firefox/);
    await expect(rowB).toHaveCount(1);
    await expect(rowB).not.toContainText(CURRENT_SESSION_TEXT);

    await test.step("Cancel keeps every session", async () => {
      await sessions.openEndDialog(rowB);
      await expect.poll(() => sessions.focusIsInDialog(), { message: "focus moves into the dialog" }).toBe(true);
      await sessions.dialogCancel.click();
      await expect(sessions.dialog).toBeHidden();
      await expect(sessions.rows).toHaveCount(3);
      expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    });

    await test.step("Escape closes the dialog and keeps every session", async () => {
      await sessions.openEndDialog(rowB);
      await expect.poll(() => sessions.focusIsInDialog(), { message: "focus moves into the dialog" }).toBe(true);
      await page.keyboard.press("Escape");
      await expect(sessions.dialog).toBeHidden();
      await expect(sessions.rows).toHaveCount(3);
      expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    });

    await test.step("OK ends B's session", async () => {
      await sessions.endSession(rowB);
      await expect(sessions.rows).toHaveCount(2);
      await expect(sessions.currentRow).toHaveCount(1);
      await expect(sessions.endButtons).toHaveCount(1);
    });

    await test.step("B, idle on its inbox, notices by itself", async () => {
      await expectAutoLogoutNotice(deviceB);
      expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "ended_by_user" });
    });

    await test.step("C and A are still logged in", async () => {
      await new Shell(deviceC).expectStillLoggedInAfterReload(user);
      await shell.expectStillLoggedInAfterReload(user);
      await expect(sessions.rows).toHaveCount(2);
    });
  });

  test("the list refreshes itself when sessions start and end elsewhere", async ({ page, newDevice }) => {
    const user = newUser();
    await signUp(page, user);
    const sessions = new SessionsPage(page);
    await sessions.goto();
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.currentRow).toHaveCount(1);
    await expect(sessions.endButtons).toHaveCount(0);

    const device = await newDevice();
    const other = await logIn(device, user.email, user.password);
    // No reload: the page polls.
    await expect(sessions.rows).toHaveCount(2);
    await expect(sessions.endButtons).toHaveCount(1);

    await other.logOut();
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.endButtons).toHaveCount(0);
  });
});
