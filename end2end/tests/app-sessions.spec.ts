import { test, expect, newUser, SessionsPage, signUp, tryAppLogin } from "./fixtures";

test.describe("mail app sessions", () => {
  test("an app login is listed and can be ended from the browser", async ({ page, appLogin }) => {
    const user = newUser();
    await signUp(page, user);
    const sessions = new SessionsPage(page);
    await sessions.goto();
    await expect(sessions.rows).toHaveCount(1);

    const app = await appLogin(user.email, user.password, "Pixel 8");
    const me = await app.me();
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: user.email, name: user.name, session_id: app.sessionId });

    // The list picks the new session up by itself.
    const appRow = sessions.row("Mail app on Pixel 8");
    await expect(sessions.rows).toHaveCount(2);
    await expect(appRow).toHaveCount(1);
    await expect(sessions.endButton(appRow)).toBeVisible();

    await sessions.endSession(appRow);
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.currentRow).toHaveCount(1);

    await app.expectEnded("ended_by_user");
  });

  test("an app login with a wrong password is refused and not listed", async ({ page, request }) => {
    const user = newUser();
    await signUp(page, user);

    const status = await tryAppLogin(request, user.email, "Not-The-Password-31", "Pixel 8");
    expect(status, "a refused app login answers 4xx (401 expected)").toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);

    const sessions = new SessionsPage(page);
    await sessions.goto();
    await expect(sessions.rows).toHaveCount(1);
    await expect(sessions.row("Mail app on")).toHaveCount(0);
  });
});
