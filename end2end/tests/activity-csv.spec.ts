import { readFile } from "node:fs/promises";
import type { Page } from "@playwright/test";
import {
  test,
  expect,
  activityWord,
  FIREFOX_ON_WINDOWS_UA,
  logIn,
  LoginPage,
  newUser,
  ActivityPage,
  signUp,
} from "./fixtures";

const CSV_HEADER = "When,What,Device,IP address";
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;

/** RFC 4180: quoted cells may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += c;
    }
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** Click "Download CSV" and read the file it saves: its name and its lines (header first). */
async function downloadCsv(page: Page, activity: ActivityPage): Promise<{ name: string; text: string; rows: string[][] }> {
  const [download] = await Promise.all([page.waitForEvent("download"), activity.downloadLink.click()]);
  const path = await download.path();
  // A byte-order mark (for spreadsheets) is tolerated before the header.
  const text = (await readFile(path, "utf8")).replace(/^\uFEFF/, "");
  return { name: download.suggestedFilename(), text, rows: parseCsv(text) };
}

test('"Download CSV" has the rows the page shows', async ({ page, newDevice, allowConsoleError }) => {
  // The wrong password answers 401.
  allowConsoleError(/status of 401/);
  const user = newUser();
  await signUp(page, user);
  // A small log: account created, B logged in, a failed login from C, B logged out.
  const deviceB = await newDevice();
  const shellB = await logIn(deviceB, user.email, user.password);
  const deviceC = await newDevice({ userAgent: FIREFOX_ON_WINDOWS_UA });
  const loginC = new LoginPage(deviceC);
  await loginC.goto();
  await loginC.expectRejected(user.email, "Wrong-Password-Entirely-77");
  await shellB.logOut();

  const activity = new ActivityPage(page);
  await activity.goto();
  await expect.poll(() => activity.whatWords()).toContain("Logged out");
  const pageWords = await activity.whatWords();
  for (const word of ["Account created", "Logged in", "Login failed", "Logged out"]) {
    expect(pageWords).toContain(word);
  }
  expect(pageWords.length).toBeLessThan(50);

  await test.step("the link and the answer's headers", async () => {
    await expect(activity.downloadLink).toHaveAttribute("href", /\/settings\/activity\.csv\?show=all$/);
    const response = await page.request.get("/settings/activity.csv?show=all");
    expect(response.status()).toBe(200);
    expect(response.headers()["content-type"]).toBe("text/csv; charset=utf-8");
    expect(response.headers()["content-disposition"]).toMatch(/^attachment/);
  });

  await test.step("the download: header, then the page's rows in the page's order", async () => {
    const csv = await downloadCsv(page, activity);
    expect(csv.name).toMatch(/\.csv$/i);
    expect(csv.text.split(/\r?\n/)[0]).toBe(CSV_HEADER);
    const [header, ...rows] = csv.rows.filter((row) => row.some((cell) => cell !== ""));
    expect(header).toEqual(["When", "What", "Device", "IP address"]);
    expect(rows.length).toBe(pageWords.length);
    expect(rows.map((row) => activityWord(row[1]))).toEqual(pageWords);
    for (const row of rows) {
      expect(row).toHaveLength(4);
      expect(row[0]).toMatch(ISO_UTC);
    }
    // Newest first.
    const times = rows.map((row) => Date.parse(row[0]));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // The failed login names the device it came from.
    const failed = rows.filter((row) => activityWord(row[1]) === "Login failed");
    expect(failed).toHaveLength(1);
    expect(failed[0][2]).toContain("Firefox on Windows");
  });

  await test.step("with a filter, the download holds that filter's rows", async () => {
    await activity.applyFilter("failed");
    const failedWords = await activity.whatWords();
    expect(failedWords).toContain("Login failed");
    await expect(activity.downloadLink).toHaveAttribute("href", /\/settings\/activity\.csv\?show=failed$/);
    const csv = await downloadCsv(page, activity);
    const [header, ...rows] = csv.rows.filter((row) => row.some((cell) => cell !== ""));
    expect(header).toEqual(["When", "What", "Device", "IP address"]);
    expect(rows.map((row) => activityWord(row[1]))).toEqual(failedWords);
  });
});
