import { test, expect, atPath, LoginPage, newUser, Shell, signUp } from "./fixtures";

/** The plain HTML forms work without JavaScript: they post and the server redirects. */
test.describe("without JavaScript", () => {
  test("sign up and log in through the plain forms", async ({ newDevice }) => {
    const user = newUser();

    const signupDevice = await newDevice({ javaScriptEnabled: false });
    const shell = await signUp(signupDevice, user, { js: false });
    await expect(shell.logOutButton).toBeVisible();

    const loginDevice = await newDevice({ javaScriptEnabled: false });
    const login = new LoginPage(loginDevice, { js: false });
    await login.goto();
    await login.fill(user.email, user.password);
    await login.submit();
    await expect(loginDevice).toHaveURL(atPath("/"));
    await new Shell(loginDevice, { js: false }).expectLoggedIn(user);
  });
});
