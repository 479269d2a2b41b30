// Every page, as it looks: axe-core finds no serious or critical
// violation in either theme, the theme toggle works and is remembered,
// and at 390 px nothing scrolls sideways. Screenshots of each page in
// both themes (docs/dashboard.md shows some).
import { test, expect, world, tenantA, tenantPath, signIn, shot, accessible, type Page } from "./world";

// The pages, by name: where each is, and what shows it is there.
const pages: [string, string][] = [
  ["home", "/dashboard/"],
  ["overview", ""],
  ["devices", "devices"],
  ["device", `devices/${world.device.id}`],
  ["groups", "groups"],
  ["commands", "commands"],
  ["compliance", "compliance"],
  ["profiles", "profiles"],
  ["reports", "reports"],
  ["enroll", "enroll"],
  ["abm", "abm"],
  ["webhooks", "webhooks"],
  ["audit", "audit"],
  ["settings", "settings"],
  ["people", "people"],
  ["access", "access"],
];

const url = (p: string) => (p.startsWith("/") ? world.platform + p : tenantPath(tenantA, p));

async function open(page: Page, p: string) {
  await page.goto(url(p));
  await expect(page.locator("main h1")).toBeVisible();
}

test.beforeEach(async ({ page }) => {
  await signIn(page);
});

for (const scheme of ["light", "dark"] as const) {
  test(`every page is accessible in the ${scheme} theme`, async ({ page }) => {
    test.setTimeout(180_000); // twenty pages, each checked by axe and shot: a minute on a fast machine
    await page.emulateMedia({ colorScheme: scheme });
    for (const [name, p] of pages) {
      await open(page, p);
      await accessible(page, `${name} (${scheme})`);
      await shot(page, `${name}-${scheme}`);
    }
    // A webhook's own page, and a delete's confirmation.
    await open(page, "webhooks");
    await page.locator("main table a").first().click();
    await expect(page.getByRole("navigation", { name: "Breadcrumb" })).toContainText("Webhooks");
    await accessible(page, `webhook (${scheme})`);
    await shot(page, `webhook-${scheme}`);
    await page.getByRole("button", { name: "Delete" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toContainText("Delete the webhook");
    await accessible(page, `confirm (${scheme})`);
    // A page of its own: an error, and signed out.
    await page.goto(tenantPath(world.Tenants.other));
    await accessible(page, `error (${scheme})`);
    await open(page, "");
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("heading", { name: "Signed out" })).toBeVisible();
    await accessible(page, `signed out (${scheme})`);
  });
}

// The page's background, as the browser paints it.
const background = (page: Page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

test("the theme follows the system until one is chosen, and the choice stays", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await open(page, "");
  const light = await background(page);
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await background(page);
  expect(dark, "the system's dark theme").not.toEqual(light);

  await page.emulateMedia({ colorScheme: "light" });
  const theme = page.getByRole("group", { name: "Theme" });
  await theme.getByRole("button", { name: "Dark theme" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(theme.getByRole("button", { name: "Dark theme" })).toHaveAttribute("aria-pressed", "true");
  expect(await background(page)).toEqual(dark);
  await page.reload();
  expect(await background(page), "the choice after a reload").toEqual(dark);
  await shot(page, "overview-dark-chosen");

  await theme.getByRole("button", { name: "Light theme" }).click();
  await page.emulateMedia({ colorScheme: "dark" });
  expect(await background(page), "light chosen on a dark system").toEqual(light);
  await theme.getByRole("button", { name: "System theme" }).click();
  await expect(page.locator("html")).not.toHaveAttribute("data-theme", /.*/);
  expect(await background(page)).toEqual(dark);
});

test("at 390 px no page scrolls sideways and the navigation is one line", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [name, p] of pages) {
    await open(page, p);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > 391 && !e.closest("nav, table, pre"))
        .slice(0, 5)
        .map((e) => `${e.tagName}.${e.className}`)
        .join(" "),
    );
    expect(width, `${name} at 390 px (too wide: ${wide})`).toBeLessThanOrEqual(390);
    const nav = await page.getByRole("navigation", { name: "Main" }).boundingBox();
    expect(nav?.height ?? 0, `${name}: the navigation's height`).toBeLessThanOrEqual(48);
    await shot(page, `${name}-390`);
  }
  await expect(page.locator('a.skip[href="#main"]')).toHaveCount(1);
});
