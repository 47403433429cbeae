import {
  test,
  expect,
  atPath,
  logIn,
  LoginPage,
  newUser,
  SessionsPage,
  Shell,
  signUp,
  SignupPage,
  waitForHydration,
  uniqueEmail,
} from "./fixtures";

test.describe("sign up, log in, log out", () => {
  test("sign up shows the shell; log out and log in again", async ({ page }) => {
    const user = newUser();
    const shell = await signUp(page, user);

    await expect(shell.mailNavigation).toBeVisible();

    await shell.logOut();
    await new LoginPage(page).expectShown();

    // The session is really gone: `/` sends us back to the login page.
    await page.goto("/");
    await expect(page).toHaveURL(atPath("/login"));
    await waitForHydration(page);

    const again = await logIn(page, user.email, user.password);
    await again.expectLoggedIn(user);
  });

  test("a wrong password and an unknown e-mail get the same error", async ({ page, newDevice, allowConsoleError }) => {
    // The login request answers 401; Chromium logs the failed resource.
    allowConsoleError(/401/);
    const user = newUser();
    await signUp(page, user);

    const device = await newDevice();
    const login = new LoginPage(device);
    await login.goto();

    await login.expectRejected(user.email, "Wrong-Password-Entirely-77");
    await login.expectRejected(uniqueEmail(), user.password);

    // The right credentials still work on the same form afterwards.
    await login.fill(user.email, user.password);
    await login.submit();
    await expect(device).toHaveURL(atPath("/"));
    await waitForHydration(device);
    await new Shell(device).expectLoggedIn(user);
  });

  test("the login page links to sign-up", async ({ page }) => {
    const login = new LoginPage(page);
    await login.goto();
    await login.createAccountLink.click();
    await expect(page).toHaveURL(atPath("/signup"));
    await waitForHydration(page);
    await expect(new SignupPage(page).heading).toBeVisible();
  });

  test("sign-up rejects a taken e-mail, unequal passwords and weak passwords", async ({
    page,
    newDevice,
    allowConsoleError,
  }) => {
    // Rejected submissions may answer with a 4xx status.
    allowConsoleError(/status of 4\d\d/);
    const existing = newUser();
    await signUp(page, existing);

    const device = await newDevice();
    const signup = new SignupPage(device);
    await signup.goto();

    await signup.fill({ ...newUser(), email: existing.email });
    await signup.submit();
    await expect(signup.alert(/already/i)).toBeVisible();
    await expect(device).toHaveURL(atPath("/signup"));

    const user = newUser();
    await signup.goto();
    await signup.fill(user, "Something-Else-Entirely-19");
    await signup.submit();
    await expect(signup.alert(/do not match/i)).toBeVisible();
    await expect(device).toHaveURL(atPath("/signup"));

    await signup.goto();
    await signup.fill({ ...user, password: "password" });
    await signup.submit();
    await expect(signup.alert(/too easy to guess|at least 8/i)).toBeVisible();
    await expect(device).toHaveURL(atPath("/signup"));

    await signup.goto();
    await signup.fill({ ...user, password: "Ab1-x" });
    await signup.submit();
    await expect(signup.alert(/too easy to guess|at least 8/i)).toBeVisible();
    await expect(device).toHaveURL(atPath("/signup"));

    // None of the rejected attempts created the account: the e-mail is still free.
    await signup.goto();
    await signup.fill(user);
    await signup.submit();
    await expect(device).toHaveURL(atPath("/"));
    await waitForHydration(device);
    await new Shell(device).expectLoggedIn(user);
  });
});

test.describe("pages that need a session", () => {
  for (const path of [
    "/",
    "/settings",
    "/settings/sessions",
    "/settings/password",
    "/settings/activity",
    "/account",
    "/account/security",
  ]) {
    test(`${path} without a session redirects to /login`, async ({ page }) => {
      await page.goto(path);
      await expect(page).toHaveURL(atPath("/login"));
      await waitForHydration(page);
      await expect(new LoginPage(page).heading).toBeVisible();
    });
  }

  test("after logging out, /settings/sessions redirects to /login", async ({ page }) => {
    const shell = await signUp(page, newUser());
    await new SessionsPage(page).goto();
    await shell.logOut();
    await page.goto("/settings/sessions");
    await expect(page).toHaveURL(atPath("/login"));
  });
});

test("every page hydrates without errors", async ({ page }) => {
  // Logged out.
  const login = new LoginPage(page);
  await login.goto();
  const signup = new SignupPage(page);
  await signup.goto();

  // Logged in. The error guard fails the test on any page error or panic.
  const user = newUser();
  const shell = await signUp(page, user);
  const pages: Array<[string, () => Promise<void>]> = [
    ["/", () => shell.expectLoggedIn(user)],
    ["/settings", () => expect(shell.manageSessionsLink).toBeVisible()],
    ["/settings/sessions", () => expect(new SessionsPage(page).heading).toBeVisible()],
    ["/settings/password", () => expect(page.getByLabel("Current password", { exact: true })).toBeVisible()],
    ["/account/security", () => expect(page.getByRole("heading", { name: "Reset auto-login" })).toBeVisible()],
    ["/account", () => expect(page.getByRole("heading", { level: 1, name: "My Account" })).toBeVisible()],
    ["/settings/activity", () => expect(page.getByRole("heading", { level: 1, name: "Security activity" })).toBeVisible()],
  ];
  for (const [path, check] of pages) {
    await test.step(path, async () => {
      await page.goto(path);
      await waitForHydration(page);
      await expect(page).toHaveURL(atPath(path));
      await check();
      await shell.expectLoggedIn(user);
    });
  }
});
