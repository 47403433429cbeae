import type { Page } from "@playwright/test";
import {
  test,
  expect,
  atPath,
  logIn,
  newUser,
  type NewDevice,
  SessionsPage,
  Shell,
  signUp,
  waitForHydration,
} from "./fixtures";

/**
 * Simulate closing and reopening the browser: a new context that keeps only the
 * persistent cookies of `page`'s context (session cookies have `expires` -1).
 */
async function reopenBrowser(page: Page, newDevice: NewDevice): Promise<{ page: Page; persistentCookies: number }> {
  const state = await page.context().storageState();
  const cookies = state.cookies.filter((cookie) => cookie.expires > 0);
  const reopened = await newDevice({ storageState: { cookies, origins: [] } });
  return { page: reopened, persistentCookies: cookies.length };
}

test.describe("Stay logged in", () => {
  test("with the checkbox the login survives a browser restart", async ({ page, newDevice }) => {
    const user = newUser();
    await signUp(page, user);

    const deviceX = await newDevice();
    await logIn(deviceX, user.email, user.password, { stayLoggedIn: true });

    // The sessions list marks this session as an auto-login one.
    const sessions = new SessionsPage(deviceX);
    await sessions.goto();
    await expect(sessions.currentRow).toContainText("Stay logged in");

    const { page: reopened, persistentCookies } = await reopenBrowser(deviceX, newDevice);
    expect(persistentCookies, "Stay logged in sets a persistent cookie").toBeGreaterThan(0);

    await reopened.goto("/");
    await expect(reopened).toHaveURL(atPath("/"));
    await waitForHydration(reopened);
    await new Shell(reopened).expectLoggedIn(user);
  });

  test("without the checkbox the login ends with the browser", async ({ page, newDevice }) => {
    const user = newUser();
    await signUp(page, user);

    const deviceY = await newDevice();
    await logIn(deviceY, user.email, user.password, { stayLoggedIn: false });

    const sessions = new SessionsPage(deviceY);
    await sessions.goto();
    await expect(sessions.currentRow).toHaveCount(1);
    await expect(sessions.currentRow).not.toContainText("Stay logged in");

    const { page: reopened } = await reopenBrowser(deviceY, newDevice);
    await reopened.goto("/");
    await expect(reopened).toHaveURL(atPath("/login"));
    await waitForHydration(reopened);
  });
});
