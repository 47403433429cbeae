import {
  test,
  expect,
  atPath,
  expectAutoLogoutNotice,
  logIn,
  newUser,
  sessionStatus,
  Shell,
  signUp,
  ActivityPage,
} from "./fixtures";

/** My Account (`/account`) → Security options (`/account/security`), as the provider's help page describes it. */
test.describe("My Account → Security options", () => {
  test("Reset auto-login, reached through My Account, logs the remembered login out", async ({
    page,
    newDevice,
  }) => {
    const user = newUser();
    const shell = await signUp(page, user);
    // B chose "Stay logged in": a remembered login.
    const deviceB = await newDevice();
    await logIn(deviceB, user.email, user.password, { stayLoggedIn: true });

    const account = await shell.openMyAccount();

    await test.step("My Account shows the account and its menu", async () => {
      const main = page.getByRole("main");
      await expect(main).toContainText(user.name);
      await expect(main).toContainText(user.email);
      await expect(account.securityOptionsLink).toHaveAttribute("href", "/account/security");
      await expect(account.manageSessionsLink).toHaveAttribute("href", "/settings/sessions");
      await expect(account.changePasswordLink).toHaveAttribute("href", "/settings/password");
    });

    const security = await account.openSecurityOptions();

    await test.step("Reset auto-login is further down, as before", async () => {
      await expect(security.resetHeading).toBeVisible();
      await security.resetAutoLogin(user.password);
      await expect(security.success).toBeVisible();
    });

    await test.step("the remembered login is logged out and notices it", async () => {
      await expectAutoLogoutNotice(deviceB);
      expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "auto_login_reset" });
    });

    await test.step("this browser stays logged in", async () => {
      await shell.expectStillLoggedInAfterReload(user);
    });
  });

  test("the page's sections: password, sessions, latest activity, login notifications", async ({
    page,
    newDevice,
  }) => {
    const user = newUser();
    const shell = await signUp(page, user);

    await test.step("one session is counted in the singular", async () => {
      const security = await shell.openSecurityOptions();
      await expect(security.sessionsSection).toContainText("1 active session");
      await expect(security.sessionsSection).not.toContainText("1 active sessions");
    });

    const deviceB = await newDevice();
    await logIn(deviceB, user.email, user.password);

    await shell.goto();
    const security = await shell.openSecurityOptions();

    await test.step("Password: when it last changed, and a link to change it", async () => {
      await expect(security.passwordSection).toContainText("Last changed");
      await expect(
        security.passwordSection.getByRole("link", { name: "Change password", exact: true }),
      ).toHaveAttribute("href", "/settings/password");
    });

    await test.step("Sessions: how many, and a link to Manage Sessions", async () => {
      await expect(security.sessionsSection).toContainText("2 active sessions");
      await expect(
        security.sessionsSection.getByRole("link", { name: "Manage Sessions", exact: true }),
      ).toHaveAttribute("href", "/settings/sessions");
    });

    await test.step("Security activity: at most the latest three events, newest first", async () => {
      const items = security.activitySection.getByRole("listitem");
      await expect(items.first()).toBeVisible();
      expect(await items.count()).toBeLessThanOrEqual(3);
      // The newest event is B's login.
      await expect(items.first()).toContainText("Logged in");
    });

    await test.step("Login notifications: on by default", async () => {
      await expect(security.notifyCheckbox).toBeVisible();
      await expect(security.notifyCheckbox).toBeChecked();
      await expect(security.notificationsSave).toBeVisible();
      await expect(security.resetHeading).toBeVisible();
    });

    await test.step('"See all security activity" opens the activity page', async () => {
      const all = security.activitySection.getByRole("link", { name: "See all security activity", exact: true });
      await expect(all).toHaveAttribute("href", "/settings/activity");
      await all.click();
      await expect(page).toHaveURL(atPath("/settings/activity"));
      const activity = new ActivityPage(page);
      await activity.settle();
      await expect(activity.heading).toBeVisible();
      await new Shell(page).expectLoggedIn(user);
    });
  });
});
