// What the suite knows of the Trident it tests (e2e/playwright_test.go
// made it), and the helpers every spec shares.
import { test as base, expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import * as path from "node:path";

type Tenant = { slug: string; name: string };
export type World = {
  platform: string;
  google: string;
  control: string;
  password: string;
  users: { admin: string; viewer: string; msp: string };
  Tenants: { a: Tenant; b: Tenant; other: Tenant };
  device: { id: string; name: string };
  mac: { id: string; name: string };
};

const raw = process.env.TRIDENT_E2E_WORLD;
if (!raw) {
  throw new Error("TRIDENT_E2E_WORLD is not set: run the suite through go test ./e2e -run TestPlaywright");
}
export const world: World = JSON.parse(raw);
export const tenantA = world.Tenants.a;
export const tenantB = world.Tenants.b;
export const tenantPath = (t: Tenant, p = "") => `${world.platform}/dashboard/t/${t.slug}/${p}`;

// signIn signs in through the identity provider's own form, as a person.
export async function signIn(page: Page, user = world.users.admin) {
  await page.goto(`${world.platform}/dashboard/`);
  await page.getByLabel(/email|user/i).fill(user);
  await page.getByLabel(/password/i).fill(world.password);
  await page.getByRole("button", { name: /sign in/i }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Tenants" })).toBeVisible();
}

// shot saves a full-page screenshot as screenshots/NAME.png.
export async function shot(page: Page, name: string) {
  const dir = path.join(process.env.PLAYWRIGHT_OUTPUT ?? "test-results", "screenshots");
  // From the top: the sidebar sticks to where the page is scrolled.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

// accessible fails on any serious or critical axe-core violation of
// WCAG 2.1 A and AA on the page as it is.
export async function accessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
  expect.soft(bad, `axe on ${what}`).toEqual([]);
}

// asDevice has the named simulated device run its next session.
export async function asDevice(name: string) {
  const resp = await fetch(`${world.control}/session?device=${encodeURIComponent(name)}`, { method: "POST" });
  if (!resp.ok) throw new Error(`the device's session: ${resp.status} ${await resp.text()}`);
}

// enroll has a new simulated Windows device of that name enroll in
// tenant a.
export async function enroll(name: string) {
  const resp = await fetch(`${world.control}/enroll?device=${encodeURIComponent(name)}`, { method: "POST" });
  if (!resp.ok) throw new Error(`enroll: ${resp.status} ${await resp.text()}`);
}

// test is Playwright's, with every page watched: a script error or a
// console error (a CSP refusal among them) fails the test that met it.
export const test = base.extend<{ pageErrors: void }>({
  pageErrors: [
    async ({ context }, use) => {
      const errors: string[] = [];
      const watch = (page: Page) => {
        page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
        // Console errors but the answers a test asked for (a 404 page, a
        // refusal htmx swapped in as told): a CSP refusal is one.
        page.on("console", (m) => {
          const text = m.text();
          if (m.type() !== "error" || text.startsWith("Failed to load resource") || text.startsWith("Response Status Error Code 4")) return;
          const at = m.location();
          errors.push(`${page.url()}: console: ${text} (at ${at.url}:${at.lineNumber}:${at.columnNumber})`);
        });
      };
      context.pages().forEach(watch);
      context.on("page", watch);
      await use();
      expect(errors, "script and console errors").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };
