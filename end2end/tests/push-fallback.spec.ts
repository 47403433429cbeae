import {
  test,
  expect,
  autoLogoutNotice,
  EVENTS_PATH,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  newUser,
  SessionsPage,
  signUp,
} from "./fixtures";

// The default server polls every second: with the stream blocked, the poll still delivers.
test("with the event stream blocked, the short poll still shows the notice", async ({
  page,
  newDevice,
  allowConsoleError,
}) => {
  // The aborted stream is a failed request in the console; nothing else may be.
  allowConsoleError(/ERR_FAILED|events/);
  const user = newUser();
  await signUp(page, user);
  const laptop = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
  let blocked = 0;
  await laptop.route(`**${EVENTS_PATH}`, (route) => {
    blocked += 1;
    return route.abort();
  });
  await logIn(laptop, user.email, user.password);
  await expect.poll(() => blocked).toBeGreaterThan(0);

  const sessions = new SessionsPage(page);
  await sessions.goto();
  await sessions.endSession(sessions.row(/Firefox/));
  await expect(autoLogoutNotice(laptop)).toBeVisible();
  // The stream was retried with backoff meanwhile, never more than a few times.
  expect(blocked).toBeLessThan(10);
});
