import {
  test,
  expect,
  atPath,
  expectAutoLogoutNotice,
  FIREFOX_ON_WINDOWS_UA,
  InboxPage,
  logIn,
  LoginPage,
  newUser,
  OTHER_PASSWORD,
  ActivityPage,
  SecurityPage,
  SessionsPage,
  sessionStatus,
  Shell,
  signUp,
  waitForHydration,
  SECURITY_SENDER,
  NEW_LOGIN_SUBJECT,
} from "./fixtures";

test.describe("new-login messages in the Inbox", () => {
  test("a login from a new browser leaves a message; \"This wasn't me\" secures the account", async ({
    page,
    newDevice,
    allowConsoleError,
  }) => {
    // The login with the old password (fresh device, at the end) answers 401.
    allowConsoleError(/status of 401/);
    const user = newUser();
    const shell = await signUp(page, user);
    const inbox = new InboxPage(page);

    await test.step("a new account's Inbox is empty (its own browser is known)", async () => {
      await expect(inbox.heading).toBeVisible();
      await expect(inbox.empty).toBeVisible();
      await shell.expectUnread(0);
    });

    // B: another browser, a Firefox so that the message can be told apart.
    const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(deviceB, user.email, user.password);

    await test.step("the first browser's Inbox shows one unread message after a reload", async () => {
      await inbox.reload();
      await expect(inbox.newLoginMessages).toHaveCount(1);
      await expect(inbox.newLoginMessages).toContainText(SECURITY_SENDER);
      await expect(inbox.newLoginMessages).toContainText(NEW_LOGIN_SUBJECT);
      await expect(inbox.newLoginMessages).toHaveAttribute("href", /^\/inbox\/[^/?#]+$/);
      await expect(inbox.unread.filter({ hasText: NEW_LOGIN_SUBJECT })).toHaveCount(1);
      await expect(inbox.empty).toHaveCount(0);
      await shell.expectUnread(1);
    });

    await test.step("read from the login it is about, the message offers no buttons", async () => {
      const inboxB = new InboxPage(deviceB);
      await expect(inboxB.heading).toBeVisible();
      const messageB = await inboxB.openNewLoginMessage();
      await expect(messageB.thisDevice).toBeVisible();
      await expect(messageB.yesButton).toHaveCount(0);
      await expect(messageB.notMeButton).toHaveCount(0);
    });

    const message = await inbox.openNewLoginMessage();

    await test.step("the first browser sees the device, the IP address and both buttons", async () => {
      await message.expectFromPosternSecurity();
      await expect(message.main).toContainText("Firefox on Windows");
      await expect(message.main).toContainText("127.0.0.1");
      await expect(message.thisDevice).toHaveCount(0);
      await expect(message.yesButton).toBeVisible();
      await expect(message.notMeButton).toBeVisible();
    });

    const secure = await message.reportNotMe();

    await test.step('"Secure my account" does it all at once', async () => {
      await expect(secure.currentPassword).toBeVisible();
      await expect(secure.newPassword).toBeVisible();
      await expect(secure.repeatNewPassword).toBeVisible();
      await secure.secure(user.password, OTHER_PASSWORD);
      await expect(secure.success).toBeVisible();
    });

    await test.step("the reported browser is logged out and shows the notice", async () => {
      await expectAutoLogoutNotice(deviceB);
      expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "not_me" });
    });

    await test.step("this browser stays logged in; B is under Recently ended as \"This wasn't me\"", async () => {
      await shell.goto();
      await shell.expectLoggedIn(user);
      const sessions = new SessionsPage(page);
      await sessions.goto();
      await expect(sessions.rows).toHaveCount(1);
      await expect(sessions.currentRow).toHaveCount(1);
      const endedB = sessions.endedRow(/Firefox/);
      await expect(endedB).toHaveCount(1);
      await expect(endedB).toContainText("This wasn't me");
    });

    await test.step('the activity log says "Account secured"', async () => {
      const activity = new ActivityPage(page);
      await activity.goto();
      await expect.poll(() => activity.whatWords()).toContain("Account secured");
    });

    await test.step("the old password no longer logs in, the new one does", async () => {
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

  test("a known browser leaves no message: the sign-up browser, and a second login from the same one", async ({
    page,
    newDevice,
  }) => {
    const user = newUser();
    const shell = await signUp(page, user);
    const inbox = new InboxPage(page);

    await test.step("the browser that created the account logs in again: no message", async () => {
      await shell.logOut();
      await logIn(page, user.email, user.password);
      await expect(inbox.heading).toBeVisible();
      await expect(inbox.empty).toBeVisible();
      await expect(inbox.newLoginMessages).toHaveCount(0);
      await shell.expectUnread(0);
    });

    const deviceB = await newDevice();
    const shellB = await logIn(deviceB, user.email, user.password);

    await test.step("B's first login: one message", async () => {
      await inbox.reload();
      await expect(inbox.newLoginMessages).toHaveCount(1);
      await shell.expectUnread(1);
    });

    await test.step("B logs out and in again: still one message", async () => {
      await shellB.logOut();
      await logIn(deviceB, user.email, user.password);
      await inbox.reload();
      await expect(inbox.newLoginMessages).toHaveCount(1);
      await shell.expectUnread(1);
    });
  });

  test('"Yes, it was me" marks the message read; "Delete" removes it', async ({ page, newDevice }) => {
    const user = newUser();
    const shell = await signUp(page, user);
    const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(deviceB, user.email, user.password);

    const inbox = new InboxPage(page);
    await inbox.reload();
    await shell.expectUnread(1);

    await test.step('"Yes, it was me" thanks and marks it read', async () => {
      const message = await inbox.openNewLoginMessage();
      await message.yesButton.click();
      await expect(message.thanks).toBeVisible();
      await message.settle();
      await inbox.goto();
      await expect(inbox.newLoginMessages).toHaveCount(1);
      await expect(inbox.unread).toHaveCount(0);
      await shell.expectUnread(0);
    });

    await test.step("B was not logged out by it", async () => {
      expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    });

    await test.step('"Delete" removes it and goes back to the Inbox', async () => {
      const message = await inbox.openNewLoginMessage();
      await message.deleteButton.click();
      await expect(page).toHaveURL(atPath("/"));
      await inbox.settle();
      await expect(inbox.empty).toBeVisible();
      await expect(inbox.newLoginMessages).toHaveCount(0);
      await shell.expectUnread(0);
      // Deleting is not reporting: B goes on.
      expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
    });
  });

  test("Login notifications off: a new device's login leaves no message; on again: it does", async ({
    page,
    newDevice,
  }) => {
    const user = newUser();
    const shell = await signUp(page, user);
    const security = await shell.openSecurityOptions();

    await test.step("switch them off", async () => {
      await expect(security.notifyCheckbox).toBeChecked();
      await security.saveNotifications(false);
      await expect(security.notificationsSaved).toBeVisible();
      await page.reload();
      await security.settle();
      await expect(security.notifyCheckbox).not.toBeChecked();
    });

    await test.step("a new device logs in: no message", async () => {
      await logIn(await newDevice(), user.email, user.password);
      const inbox = new InboxPage(page);
      await inbox.goto();
      await expect(inbox.empty).toBeVisible();
      await shell.expectUnread(0);
    });

    await test.step("switch them on again: the next new device leaves a message", async () => {
      const again = new SecurityPage(page);
      await again.goto();
      await again.saveNotifications(true);
      await expect(again.notificationsSaved).toBeVisible();
      await logIn(await newDevice(), user.email, user.password);
      const inbox = new InboxPage(page);
      await inbox.goto();
      await expect(inbox.newLoginMessages).toHaveCount(1);
      await shell.expectUnread(1);
    });
  });

  test("another account cannot open the message: 404", async ({ page, newDevice, allowConsoleError }) => {
    // The refused page load answers 404, which Chromium reports in the console.
    allowConsoleError(/status of 404/);
    const owner = newUser();
    await signUp(page, owner);
    await logIn(await newDevice(), owner.email, owner.password);
    const inbox = new InboxPage(page);
    await inbox.reload();
    await expect(inbox.newLoginMessages).toHaveCount(1);
    const href = await inbox.newLoginMessages.getAttribute("href");
    expect(href).toMatch(/^\/inbox\/[^/?#]+$/);

    const stranger = newUser();
    const strangerPage = await newDevice();
    await signUp(strangerPage, stranger);
    const response = await strangerPage.goto(href!);
    expect(response?.status()).toBe(404);
    await expect(strangerPage.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await expect(strangerPage.getByText(NEW_LOGIN_SUBJECT)).toHaveCount(0);
  });
});
