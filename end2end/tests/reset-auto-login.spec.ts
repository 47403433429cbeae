import type { Page } from "@playwright/test";
import {
  test,
  expect,
  atPath,
  expectAutoLogoutNotice,
  logIn,
  newUser,
  SessionsPage,
  sessionStatus,
  Shell,
  signUp,
} from "./fixtures";

test("Reset auto-login ends every auto-login session and nothing else", async ({
  page,
  newDevice,
  appLogin,
  allowConsoleError,
}) => {
  // The attempt with a wrong password may answer 400 or 401.
  allowConsoleError(/status of 40[01]/);
  const user = newUser();

  // A: this browser, plain login (sign-up).
  const shell = await signUp(page, user);
  // B: "Stay logged in".
  const deviceB = await newDevice();
  await logIn(deviceB, user.email, user.password, { stayLoggedIn: true });
  // C: plain login.
  const deviceC = await newDevice();
  await logIn(deviceC, user.email, user.password);
  // The mail app.
  const app = await appLogin(user.email, user.password, "Pixel 8");

  const persistentCookiesOfB = (await deviceB.context().storageState()).cookies.filter((c) => c.expires > 0);
  expect(persistentCookiesOfB.length, "Stay logged in sets a persistent cookie").toBeGreaterThan(0);

  const sessions = new SessionsPage(page);
  await sessions.goto();
  await expect(sessions.rows).toHaveCount(4);
  await expect(sessions.row("Stay logged in")).toHaveCount(1);
  await expect(sessions.row("Mail app on Pixel 8")).toHaveCount(1);

  // My Account → Security options.
  await shell.goto();
  const security = await shell.openSecurityOptions();

  await test.step("a wrong password is refused and nothing ends", async () => {
    await security.resetAutoLogin("Not-My-Password-55");
    await expect(security.wrongPassword).toBeVisible();
    await expect(security.success).toHaveCount(0);
    await app.expectActive(user.email);
    expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    expect(await sessionStatus(deviceC)).toMatchObject({ state: "active" });
  });

  await test.step("the right password resets auto-login", async () => {
    await security.resetAutoLogin(user.password);
    await expect(security.success).toBeVisible();
  });

  await test.step("the Stay-logged-in browser and the app are logged out", async () => {
    await expectAutoLogoutNotice(deviceB);
    expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "auto_login_reset" });
    await app.expectEnded("auto_login_reset");
  });

  await test.step("plain sessions, this one included, go on", async () => {
    await new Shell(deviceC).expectStillLoggedInAfterReload(user);
    await shell.expectStillLoggedInAfterReload(user);
    await sessions.goto();
    await expect(sessions.rows).toHaveCount(2);
    await expect(sessions.currentRow).toHaveCount(1);
    await expect(sessions.row("Stay logged in")).toHaveCount(0);
    await expect(sessions.row("Mail app on")).toHaveCount(0);
  });

  await test.step("B's remembered login no longer works after a browser restart", async () => {
    const reopened: Page = await newDevice({ storageState: { cookies: persistentCookiesOfB, origins: [] } });
    await reopened.goto("/");
    await expect(reopened).toHaveURL(atPath("/login"));
  });
});
