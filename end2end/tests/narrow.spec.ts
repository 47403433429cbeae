import { test, expect, logIn, newUser, signUp } from "./fixtures";

// WCAG 2.2 reflow (1.4.10): at 320 CSS px nothing needs horizontal scrolling of the page; a wide
// table may scroll inside its own frame.
test("at 320 px the signed-in pages fit the screen", async ({ newDevice }) => {
  const user = newUser();
  const narrow = await newDevice({ viewport: { width: 320, height: 800 } });
  await signUp(narrow, user);
  const other = await newDevice();
  await logIn(other, user.email, user.password);
  for (const path of ["/", "/account", "/account/security", "/settings/sessions", "/settings/activity", "/settings/password"]) {
    await narrow.goto(path);
    await expect
      .poll(() => narrow.evaluate(() => document.documentElement.scrollWidth), { message: `${path} is no wider than the screen` })
      .toBeLessThanOrEqual(320);
    await expect(narrow.locator("header").getByRole("link", { name: "My Account", exact: true })).toBeInViewport();
    await expect(narrow.locator("header").getByRole("button", { name: "Log out", exact: true })).toBeInViewport();
  }
});
