import {
  test,
  expect,
  expectAutoLogoutNotice,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  newUser,
  SessionsPage,
  sessionStatus,
  Shell,
  signUp,
} from "./fixtures";

test('"End all other sessions" leaves this one and logs the others out', async ({ page, newDevice }) => {
  const user = newUser();
  await signUp(page, user);
  const sessions = new SessionsPage(page);
  await sessions.goto();

  await test.step("with a single session the button is absent", async () => {
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.endOthersButton).toHaveCount(0);
  });

  const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
  await logIn(deviceB, user.email, user.password);
  const deviceC = await newDevice();
  await logIn(deviceC, user.email, user.password);

  await test.step("more sessions make it appear beside Terminate all, without a reload", async () => {
    await expect(sessions.rows).toHaveCount(3);
    await expect(sessions.endOthersButton).toBeVisible();
    await expect(sessions.terminateAllButton).toBeVisible();
  });

  const dialogTitle = sessions.dialog.getByRole("heading", { name: "End all other sessions?", exact: true });

  await test.step("Cancel changes nothing", async () => {
    await sessions.endOthersButton.click();
    await expect(sessions.dialog).toBeVisible();
    await expect(dialogTitle).toBeVisible();
    await sessions.dialogCancel.click();
    await expect(sessions.dialog).toBeHidden();
    await expect(sessions.rows).toHaveCount(3);
    expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    expect(await sessionStatus(deviceC)).toMatchObject({ state: "active" });
  });

  await test.step("OK: one row is left, this one", async () => {
    await sessions.endOthersButton.click();
    await expect(dialogTitle).toBeVisible();
    await sessions.dialogOk.click();
    await expect(sessions.dialog).toBeHidden();
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.currentRow).toHaveCount(1);
    await expect(sessions.endOthersButton).toHaveCount(0);
    await expect(sessions.endedRow("Other sessions ended")).toHaveCount(2);
  });

  await test.step("both other browsers show the notice", async () => {
    await expectAutoLogoutNotice(deviceB);
    await expectAutoLogoutNotice(deviceC);
    expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "ended_others" });
    expect(await sessionStatus(deviceC)).toEqual({ state: "ended", reason: "ended_others" });
  });

  await test.step("this browser stays logged in", async () => {
    await new Shell(page).expectStillLoggedInAfterReload(user);
    await sessions.settle();
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.endedRow("Other sessions ended")).toHaveCount(2);
  });
});
