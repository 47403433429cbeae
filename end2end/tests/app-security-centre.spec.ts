import { test, expect, expectAutoLogoutNotice, FIREFOX_ON_WINDOWS_UA, logIn, newUser, sessionStatus, signUp } from "./fixtures";

type ApiMessage = {
  id: unknown;
  subject: string;
  device: string;
  ip: string;
  at: string;
  read: boolean;
  this_session: boolean;
};

test.describe("the mail-app API", () => {
  test("GET /api/v1/messages lists the new-login messages, newest first", async ({ page, newDevice, appLogin }) => {
    const user = newUser();
    await signUp(page, user);
    const app = await appLogin(user.email, user.password, "Pixel 8");
    await logIn(await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA }), user.email, user.password);

    const answer = await app.call("GET", "/api/v1/messages");
    expect(answer.status).toBe(200);
    const messages = answer.body.messages as ApiMessage[];
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      expect(message.subject).toBe("New login to your account");
      expect(message.read).toBe(false);
      expect(message.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/);
      expect(message.id).toBeDefined();
    }
    // Newest first: the browser's login, then the app's own.
    expect(messages[0]).toMatchObject({ device: "Firefox on Windows", this_session: false });
    expect(messages[1]).toMatchObject({ device: "Mail app on Pixel 8", this_session: true });
  });

  test("DELETE /api/v1/sessions?except=current ends every session but the app's own", async ({
    page,
    newDevice,
    appLogin,
  }) => {
    const user = newUser();
    await signUp(page, user);
    const deviceB = await newDevice();
    await logIn(deviceB, user.email, user.password);
    const app = await appLogin(user.email, user.password, "Pixel 8");

    await test.step("another value of except is refused and ends nothing", async () => {
      const refused = await app.call("DELETE", "/api/v1/sessions?except=everyone");
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: "validation", field: "except" });
      await app.expectActive(user.email);
      expect(await sessionStatus(deviceB)).toMatchObject({ state: "active" });
      expect(await sessionStatus(page)).toMatchObject({ state: "active" });
    });

    await test.step("except=current: 204, the browsers are logged out, the app is not", async () => {
      const ended = await app.call("DELETE", "/api/v1/sessions?except=current");
      expect(ended.status).toBe(204);
      await app.expectActive(user.email);
      await expectAutoLogoutNotice(deviceB);
      await expectAutoLogoutNotice(page);
      expect(await sessionStatus(deviceB)).toEqual({ state: "ended", reason: "ended_others" });
      expect(await sessionStatus(page)).toEqual({ state: "ended", reason: "ended_others" });
    });
  });
});
