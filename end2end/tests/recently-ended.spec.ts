import {
  test,
  expect,
  expectAutoLogoutNotice,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  newUser,
  SessionsPage,
  signUp,
} from "./fixtures";

test("Manage Sessions lists recently ended sessions and how they ended", async ({ page, newDevice }) => {
  const user = newUser();
  await signUp(page, user);
  const sessions = new SessionsPage(page);
  await sessions.goto();

  await test.step("nothing has ended yet", async () => {
    await expect(sessions.endedHeading).toBeVisible();
    await expect(sessions.noneEnded).toBeVisible();
    await expect(sessions.endedRows).toHaveCount(0);
  });

  const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
  await logIn(deviceB, user.email, user.password);
  const deviceC = await newDevice();
  const shellC = await logIn(deviceC, user.email, user.password);
  await expect(sessions.rows).toHaveCount(3);
  // What this browser is called in the lists ("Chrome on Linux", or what headless Chromium reports).
  const thisDevice = await sessions.deviceOf(sessions.currentRow);
  expect(thisDevice).not.toBe("");

  await test.step('ending B here shows it at once, "Ended from" this browser', async () => {
    await sessions.endSession(sessions.row(/Firefox/));
    const endedB = sessions.endedRow(/Firefox on Windows/);
    await expect(endedB).toHaveCount(1);
    await expect(endedB).toContainText(`Ended from ${thisDevice}`);
    await expect(endedB).toContainText("127.0.0.1");
    for (const column of ["Device", "IP address", "Ended", "How"]) {
      await expect(sessions.endedColumnHeader(column)).toBeVisible();
    }
    await expect(sessions.noneEnded).toHaveCount(0);
    await expectAutoLogoutNotice(deviceB);
  });

  await test.step('C logs out: "Logged out" appears with the list\'s refresh', async () => {
    await shellC.logOut();
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.endedRow("Logged out")).toHaveCount(1);
    await expect(sessions.endedRows).toHaveCount(2);
  });

  await test.step("after a reload, newest first", async () => {
    await page.reload();
    await sessions.settle();
    await expect(sessions.endedRows).toHaveCount(2);
    await expect(sessions.endedRows.first()).toContainText("Logged out");
    await expect(sessions.endedRows.nth(1)).toContainText(`Ended from ${thisDevice}`);
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.currentRow).toHaveCount(1);
  });
});
