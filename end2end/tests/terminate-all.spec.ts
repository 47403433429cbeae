import {
  test,
  expect,
  atPath,
  expectAutoLogoutNotice,
  logIn,
  LoginPage,
  newUser,
  SessionsPage,
  sessionStatus,
  signUp,
  waitForHydration,
} from "./fixtures";

test("Terminate all sessions ends every session, this one included", async ({ page, newDevice, appLogin }) => {
  const user = newUser();
  await signUp(page, user);
  const sessions = new SessionsPage(page);
  await sessions.goto();

  await test.step("with a single session the button is absent", async () => {
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.terminateAllButton).toHaveCount(0);
  });

  const deviceB = await newDevice();
  await logIn(deviceB, user.email, user.password);

  await test.step("a second session makes it appear without a reload", async () => {
    await expect(sessions.rows).toHaveCount(2);
    await expect(sessions.terminateAllButton).toBeVisible();
  });

  const app = await appLogin(user.email, user.password, "Pixel 8");
  await expect(sessions.rows).toHaveCount(3);

  await test.step("Cancel changes nothing", async () => {
    await sessions.openTerminateAllDialog();
    await sessions.dialogCancel.click();
    await expect(sessions.dialog).toBeHidden();
    await expect(sessions.rows).toHaveCount(3);
    expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    await app.expectActive(user.email);
  });

  await test.step("OK ends everything; this browser goes to the login page", async () => {
    await sessions.openTerminateAllDialog();
    await sessions.dialogOk.click();
    await expect(page).toHaveURL(atPath("/login"));
    await waitForHydration(page);
    await expect(new LoginPage(page).heading).toBeVisible();
  });

  await test.step("the other browser shows the notice, the app is locked out", async () => {
    await expectAutoLogoutNotice(deviceB);
    expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "terminated_all" });
    await app.expectEnded("terminated_all");
  });

  await test.step("this browser's session is really over", async () => {
    await page.goto("/");
    await expect(page).toHaveURL(atPath("/login"));
  });
});
