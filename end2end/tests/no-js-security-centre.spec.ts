import type { Locator, Page } from "@playwright/test";
import {
  test,
  expect,
  atPath,
  expectAutoLogoutNotice,
  FIREFOX_ON_WINDOWS_UA,
  InboxPage,
  logIn,
  newUser,
  OTHER_PASSWORD,
  SecurityPage,
  sessionStatus,
  Shell,
  signUp,
  tryAppLogin,
} from "./fixtures";

/** Without JavaScript a button posts its form: wait until the page the server answers with has loaded. */
async function submitPlain(page: Page, button: Locator): Promise<void> {
  await expect(button.locator("xpath=ancestor::form[1]")).toHaveAttribute("method", /^post$/i);
  const loaded = page.waitForEvent("load");
  await button.click();
  await loaded;
}

test.describe("the security centre without JavaScript", () => {
  test('"Yes, it was me", "Delete" and Login notifications\' "Save changes" are plain forms', async ({
    newDevice,
  }) => {
    const user = newUser();
    const noJs = await newDevice({ javaScriptEnabled: false });
    const shell = await signUp(noJs, user, { js: false });
    // Another browser (with JavaScript) logs in: a message.
    await logIn(await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA }), user.email, user.password);

    const inbox = new InboxPage(noJs, { js: false });
    await inbox.goto();
    await expect(inbox.newLoginMessages).toHaveCount(1);
    await shell.expectUnread(1);

    await test.step('"Yes, it was me" marks it read', async () => {
      const message = await inbox.openNewLoginMessage();
      await expect(message.main).toContainText("Firefox on Windows");
      await expect(message.notMeButton).toBeVisible();
      await submitPlain(noJs, message.yesButton);
      await expect(message.thanks).toBeVisible();
      await inbox.goto();
      await expect(inbox.newLoginMessages).toHaveCount(1);
      await expect(inbox.unread).toHaveCount(0);
      await shell.expectUnread(0);
    });

    await test.step('"Delete" removes it and goes back to the Inbox', async () => {
      const message = await inbox.openNewLoginMessage();
      await submitPlain(noJs, message.deleteButton);
      await expect(noJs).toHaveURL(atPath("/"));
      await expect(inbox.empty).toBeVisible();
      await expect(inbox.newLoginMessages).toHaveCount(0);
    });

    await test.step("Login notifications off, saved by a plain post", async () => {
      const security = new SecurityPage(noJs, { js: false });
      await security.goto();
      await expect(security.notifyCheckbox).toBeChecked();
      await security.notifyCheckbox.uncheck();
      await submitPlain(noJs, security.notificationsSave);
      await security.goto();
      await expect(security.notifyCheckbox).not.toBeChecked();
    });

    await test.step("so a new device's login leaves no message", async () => {
      await logIn(await newDevice(), user.email, user.password);
      await inbox.goto();
      await expect(inbox.empty).toBeVisible();
      await shell.expectUnread(0);
    });

    await test.step("and back on, by a plain post too", async () => {
      const security = new SecurityPage(noJs, { js: false });
      await security.goto();
      await security.notifyCheckbox.check();
      await submitPlain(noJs, security.notificationsSave);
      await security.goto();
      await expect(security.notifyCheckbox).toBeChecked();
    });
  });

  test('"This wasn\'t me" and "Secure my account" work as plain forms', async ({ newDevice, request }) => {
    const user = newUser();
    const noJs = await newDevice({ javaScriptEnabled: false });
    const shell = await signUp(noJs, user, { js: false });
    const deviceB = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
    await logIn(deviceB, user.email, user.password);

    const inbox = new InboxPage(noJs, { js: false });
    await inbox.goto();
    const message = await inbox.openNewLoginMessage();
    await expect(message.notMeButton.locator("xpath=ancestor::form[1]")).toHaveAttribute("method", /^post$/i);
    const secure = await message.reportNotMe();

    await test.step("the form posts and does it all", async () => {
      await secure.currentPassword.fill(user.password);
      await secure.newPassword.fill(OTHER_PASSWORD);
      await secure.repeatNewPassword.fill(OTHER_PASSWORD);
      await submitPlain(noJs, secure.submitButton);
      await expect
        .poll(() => sessionStatus(deviceB), { message: "the reported browser's session ends" })
        .toEqual({ state: "ended", reason: "not_me" });
      await expectAutoLogoutNotice(deviceB);
    });

    await test.step("this browser stays logged in", async () => {
      await shell.goto();
      await expect(noJs).toHaveURL(atPath("/"));
      await new Shell(noJs, { js: false }).expectLoggedIn(user);
    });

    await test.step("only the new password logs in", async () => {
      expect(await tryAppLogin(request, user.email, user.password, "Pixel 8")).toBe(401);
      expect(await tryAppLogin(request, user.email, OTHER_PASSWORD, "Pixel 8")).toBe(200);
    });
  });

  test('"End all other sessions" works as a plain form', async ({ newDevice }) => {
    const user = newUser();
    const noJs = await newDevice({ javaScriptEnabled: false });
    await signUp(noJs, user, { js: false });
    const deviceB = await newDevice();
    await logIn(deviceB, user.email, user.password);

    await noJs.goto("/settings/sessions");
    const activeRows = noJs.locator("table", { has: noJs.getByRole("columnheader", { name: "Last active" }) }).locator("tbody tr");
    await expect(activeRows).toHaveCount(2);
    await submitPlain(noJs, noJs.getByRole("button", { name: "End all other sessions", exact: true }));
    await expect(noJs).toHaveURL(atPath("/settings/sessions"));
    await expect(activeRows).toHaveCount(1);
    await expect
      .poll(() => sessionStatus(deviceB), { message: "the other browser's session ends" })
      .toEqual({ state: "ended", reason: "ended_others" });
    await expectAutoLogoutNotice(deviceB);
  });
});
