import {
  test,
  expect,
  atPath,
  expectAutoLogoutNotice,
  logIn,
  LoginPage,
  newUser,
  OTHER_PASSWORD,
  PasswordPage,
  SessionsPage,
  sessionStatus,
  Shell,
  signUp,
  waitForHydration,
} from "./fixtures";

test.describe("Change password", () => {
  test("a new password ends every other session", async ({ page, newDevice, appLogin, allowConsoleError }) => {
    // The login with the old password (fresh device, below) answers 401.
    allowConsoleError(/401/);
    const user = newUser();
    const shell = await signUp(page, user);
    const deviceB = await newDevice();
    await logIn(deviceB, user.email, user.password);
    const app = await appLogin(user.email, user.password, "Pixel 8");

    // Shell → Settings → Change password.
    await shell.openSettings();
    const passwordPage = await shell.openChangePassword();
    await passwordPage.change(user.password, OTHER_PASSWORD);
    await expect(passwordPage.success).toBeVisible();

    await test.step("the other browser and the app are logged out", async () => {
      await expectAutoLogoutNotice(deviceB);
      expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "password_changed" });
      await app.expectEnded("password_changed");
    });

    await test.step("this browser stays logged in", async () => {
      await expect(page).toHaveURL(atPath("/settings/password"));
      await shell.expectLoggedIn(user);
      await page.reload();
      await waitForHydration(page);
      await shell.goto();
      await shell.expectLoggedIn(user);
      const sessions = new SessionsPage(page);
      await sessions.goto();
      await expect(sessions.rows).toHaveCount(1);
      await expect(sessions.currentRow).toHaveCount(1);
    });

    await test.step("only the new password logs in", async () => {
      const fresh = await newDevice();
      const login = new LoginPage(fresh);
      await login.goto();
      await login.expectRejected(user.email, user.password);
      await login.fill(user.email, OTHER_PASSWORD);
      await login.submit();
      await expect(fresh).toHaveURL(atPath("/"));
      await waitForHydration(fresh);
      await new Shell(fresh).expectLoggedIn(user);
    });
  });

  test("a wrong current password changes nothing", async ({ page, newDevice, appLogin, allowConsoleError }) => {
    // The rejected request may answer 400 or 401.
    allowConsoleError(/status of 40[01]/);
    const user = newUser();
    await signUp(page, user);
    const deviceB = await newDevice();
    await logIn(deviceB, user.email, user.password);
    const app = await appLogin(user.email, user.password, "Pixel 8");

    const passwordPage = new PasswordPage(page);
    await passwordPage.goto();
    await passwordPage.change("Not-My-Password-55", OTHER_PASSWORD);
    await expect(passwordPage.wrongCurrentPassword).toBeVisible();
    await expect(passwordPage.success).toHaveCount(0);

    // Nobody was logged out.
    expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    await new Shell(deviceB).expectStillLoggedInAfterReload(user);
    await app.expectActive(user.email);

    // The old password is still the password.
    const fresh = await newDevice();
    await logIn(fresh, user.email, user.password);
  });
});
