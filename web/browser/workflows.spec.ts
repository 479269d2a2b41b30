// The main workflows of issue 24, as a technician does them.
import { test, expect, world, tenantA, tenantB, tenantPath, signIn, shot, asDevice, enroll, accessible } from "./world";

test.beforeEach(async ({ page }) => {
  await signIn(page);
});

test("sign in, see only your tenants, switch between them", async ({ page }) => {
  const main = page.getByRole("main");
  await expect(main.getByRole("link", { name: tenantA.name })).toBeVisible();
  await expect(main.getByRole("link", { name: tenantB.name })).toBeVisible();
  await expect(main).not.toContainText(world.Tenants.other.name);
  await shot(page, "tenants");

  await main.getByRole("link", { name: tenantA.name }).click();
  await expect(page.getByRole("heading", { level: 1, name: tenantA.name })).toBeVisible();
  // The switcher in the sidebar: a disclosure of the person's tenants.
  await page.locator(".switcher summary").click();
  await page.getByRole("list", { name: "Switch tenant" }).getByRole("link", { name: tenantB.name }).click();
  await expect(page).toHaveURL(tenantPath(tenantB));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Devices" }).click();
  await expect(page.locator("#device-rows")).toContainText("No devices match");
  // Breadcrumbs lead back.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Tenants" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Tenants" })).toBeVisible();
});

test("editing the URL to someone else's tenant shows nothing of it", async ({ page }) => {
  await page.goto(tenantPath(world.Tenants.other, "devices"));
  await expect(page.getByRole("alert")).toContainText("no such tenant");
  await expect(page.locator("body")).not.toContainText(world.Tenants.other.name);
});

test("find a device by typing", async ({ page }) => {
  await page.goto(tenantPath(tenantA, "devices"));
  await expect(page.locator(".count")).toHaveText("7 devices");
  await page.getByRole("searchbox", { name: "Search" }).fill("front");
  const rows = page.locator("#device-rows");
  await expect(rows.getByRole("link", { name: world.device.name })).toBeVisible();
  await expect(rows).not.toContainText("TILL-05");
  await expect(page).toHaveURL(/q=front/);
  await shot(page, "devices");
  // By its user, too.
  await page.getByRole("searchbox", { name: "Search" }).fill("lima");
  await expect(rows.getByRole("row")).toHaveCount(1);
  await expect(rows).toContainText("Ana Lima (ana)");
  await page.getByRole("searchbox", { name: "Search" }).fill("front");
  await rows.getByRole("link", { name: world.device.name }).click();
  await expect(page.getByRole("heading", { level: 1, name: world.device.name })).toBeVisible();
  await shot(page, "device");
});

test("queue a command, cancel it, and watch the status live", async ({ page, context }) => {
  const device = tenantPath(tenantA, `devices/${world.device.id}`);
  await page.goto(device);
  const restart = page.locator("#form-restart");
  await restart.locator("summary").click();
  await restart.getByRole("button", { name: "Restart" }).click();
  const row = page.locator("#command-rows tr").first();
  await expect(row.locator("td[data-status]")).toHaveAttribute("data-status", "queued");

  // A second page of the same person follows the tenant's stream.
  const other = await context.newPage();
  await other.goto(device);
  const otherRow = other.locator("#command-rows tr").first();
  await expect(otherRow.locator("td[data-status]")).toHaveAttribute("data-status", "queued");

  await row.getByRole("button", { name: /Cancel/ }).click();
  await expect(row.locator("td[data-status]")).toHaveAttribute("data-status", "canceled");
  // ... and the other page sees it without a reload.
  await expect(otherRow.locator("td[data-status]")).toHaveAttribute("data-status", "canceled");
  await expect(otherRow.getByRole("button", { name: /Cancel/ })).toHaveCount(0);

  // Another restart, which the device takes in its next session: the
  // other page gets the new row without a reload (and this page does
  // not get it twice), then the row turns acknowledged on both.
  await restart.getByRole("button", { name: "Restart" }).click();
  await expect(row.locator("td[data-status]")).toHaveAttribute("data-status", "queued");
  await expect(otherRow.locator("td[data-status]")).toHaveAttribute("data-status", "queued");
  const rows = await other.locator("#command-rows tr").count();
  expect(await page.locator("#command-rows tr").count()).toEqual(rows);
  await asDevice(world.device.name);
  await expect(row.locator("td[data-status]")).toHaveAttribute("data-status", "acknowledged");
  await expect(otherRow.locator("td[data-status]")).toHaveAttribute("data-status", "acknowledged");
  await shot(page, "device-commands");
});

test("a refused form says why where the person acted, and keeps what was typed", async ({ page }) => {
  await page.goto(tenantPath(tenantA, `devices/${world.device.id}`));
  // An erase with the wrong name typed: 422, which htmx would not show
  // by default.
  const erase = page.locator("#form-erase");
  await erase.locator("summary").click();
  const name = erase.getByLabel(/Type the device's name/);
  await name.fill("FRONT DESK");
  await erase.getByRole("button", { name: "Erase the device" }).click();
  await expect(erase.getByRole("alert")).toContainText(`type the device's name, ${world.device.name}, to confirm`);
  await expect(name).toHaveValue("FRONT DESK");
  await expect(page.locator("#command-rows")).not.toContainText("erase");
  await shot(page, "refused");
});

test("a rule, and the devices failing it", async ({ page }) => {
  await page.goto(tenantPath(tenantA, "compliance"));
  await page.getByLabel("Name", { exact: true }).fill("Windows 11 24H2 or later");
  await page.getByLabel("Checks").selectOption("os_version_min");
  await page.getByLabel(/^Version/).fill("10.0.26100");
  await page.getByLabel("Platform").selectOption("windows");
  await page.getByRole("button", { name: "Save the rule" }).click();
  await expect(page.getByRole("status")).toContainText("The rule is saved");
  const rule = page.getByRole("row", { name: /Windows 11 24H2 or later/ });
  // Every device is evaluated against it in the background: the count
  // comes live, without a reload, as results change.
  await expect(rule.getByRole("link", { name: "6 failing" })).toBeVisible({ timeout: 30_000 });
  await expect(page.locator("#standing")).toContainText("6 fail at least one");
  await shot(page, "compliance");
  await rule.getByRole("link", { name: "6 failing" }).click();
  await expect(page.locator(".count")).toContainText("6 devices failing Windows 11 24H2 or later");
  await expect(page.locator("#device-rows tr")).toHaveCount(6);
});

test("Sign up with Google goes to Google under the page's real CSP", async ({ page }) => {
  await page.goto(tenantPath(tenantA, "enroll"));
  await page.getByLabel(/admin/i).fill("it@example.com");
  await page.locator('form[action$="/android/signup"] button[type="submit"]').click();
  await page.waitForURL((u) => u.toString().startsWith(world.google), { timeout: 15_000 });
});

test("a Mac's page: a friendly model name and its apps, searched", async ({ page }) => {
  await page.goto(tenantPath(tenantA, `devices/${world.mac.id}`));
  await expect(page.locator("dl.facts")).toContainText("MacBook Pro (14-inch, 2021)");
  await expect(page.locator("dl.facts")).toContainText("Ana Lima (ana)");
  await page.getByText(/Installed apps \(3\)/).click();
  const search = page.getByRole("searchbox", { name: "Search the apps" });
  await search.fill("apple");
  await expect(page.locator("#app-rows tr:visible")).toHaveCount(2);
  await expect(page.locator("#apps-shown")).toHaveText("2 of 3");
  await search.fill("slack");
  await expect(page.locator("#app-rows tr:visible")).toHaveText([/Slack/]);
  // Its lock form asks for a Mac's PIN; a Windows PC's does not.
  await page.locator("#form-lock summary").click();
  await expect(page.getByLabel("Six-digit PIN to unlock it")).toBeVisible();
  await shot(page, "device-mac");
});

test("a device of one tenant is not there under another tenant's URL", async ({ page }) => {
  // The admin is a viewer of tenant b: the device of a under b's path.
  await page.goto(tenantPath(tenantB, `devices/${world.device.id}`));
  await expect(page.getByRole("alert")).toBeVisible();
  await expect(page.locator("body")).not.toContainText(world.device.name);
});

test("relative times tick", async ({ page }) => {
  // The page's clock, played: five minutes pass without a reload.
  await page.clock.install();
  await page.goto(tenantPath(tenantA, "devices"));
  const seen = page.locator("#device-rows time").first();
  await expect(seen).toHaveText(/just now|\d+ min ago/);
  const before = await seen.textContent();
  await page.clock.runFor("05:00");
  await expect(seen).not.toHaveText(before ?? "");
  await expect(seen).toHaveText(/^\d+ min ago$/);
});

test("pick devices in the list, add them to a group, and export the list", async ({ page }) => {
  await page.goto(tenantPath(tenantA, "devices"));
  await page.getByRole("searchbox", { name: "Search" }).fill("till");
  await expect(page.locator("#device-rows tr")).toHaveCount(2);
  await page.getByRole("checkbox", { name: "Select every device on this page" }).check();
  await expect(page.locator("#bulk-count")).toHaveText("2 selected");
  await page.getByLabel("With the selected devices").selectOption({ label: "Add to Tills" });
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.locator("#bulk-status")).toHaveText("2 devices joined the group.");
  await shot(page, "devices-bulk");

  await page.getByRole("searchbox", { name: "Search" }).fill("");
  await page.locator("#group-filter").selectOption({ label: "Tills" });
  await expect(page.locator(".count")).toHaveText("2 devices");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export CSV" }).click()]);
  expect(download.suggestedFilename()).toMatch(new RegExp(`^${tenantA.slug}-devices-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
  const fs = await import("node:fs/promises");
  const csv = await fs.readFile(await download.path(), "utf8");
  const lines = csv.trim().split("\n");
  expect(lines[0]).toMatch(/^name,id,identifier,serial_number,platform/);
  expect(lines.slice(1).map((l) => l.split(",")[0])).toEqual(["TILL-05", "TILL-06"]);
});

test("a newly enrolled device appears in the list, and the overview counts it, without a reload", async ({ page, context }) => {
  const overview = await context.newPage();
  await overview.goto(tenantPath(tenantA));
  const total = overview.locator("#fleet .big").first();
  const before = Number(await total.textContent());
  await page.goto(tenantPath(tenantA, "devices"));
  const rows = page.locator("#device-rows");
  await expect(rows.locator("tr")).not.toHaveCount(0);
  await enroll("PASTRY-KIOSK-07");
  await expect(total).toHaveText(String(before + 1));
  await expect(rows.locator("tr").first()).toContainText("PASTRY-KIOSK-07");
  // Once only.
  await expect(rows.getByRole("link", { name: "PASTRY-KIOSK-07" })).toHaveCount(1);
});

test.describe("as an MSP admin", () => {
  test("make a tenant from the home page", async ({ page, context }) => {
    await context.clearCookies();
    await signIn(page, world.users.msp);
    await accessible(page, "home with the new tenant form");
    const slug = `cafe-${Date.now().toString(36)}`;
    await page.getByLabel("Name", { exact: true }).fill("Quayside Café");
    await page.getByLabel(/Short name/).fill(slug);
    await page.getByRole("button", { name: "Make the tenant" }).click();
    await expect(page).toHaveURL(tenantPath({ slug, name: "" }) + "?done=tenant-created");
    await expect(page.getByRole("heading", { level: 1, name: "Quayside Café" })).toBeVisible();
    await expect(page.getByRole("status")).toContainText("The tenant is made");
    // The short name is taken now.
    await page.goto(`${world.platform}/dashboard/`);
    await page.getByLabel("Name", { exact: true }).fill("Another");
    await page.getByLabel(/Short name/).fill(slug);
    await page.getByRole("button", { name: "Make the tenant" }).click();
    await expect(page.getByRole("alert")).toContainText("is taken");
    await expect(page.getByLabel("Name", { exact: true })).toHaveValue("Another");
  });

  test("the console: totals, what needs attention, each tenant, live", async ({ page, context }) => {
    await context.clearCookies();
    await signIn(page, world.users.msp);
    const tenants = page.locator(".console table").last();
    // Counted in the background within seconds (the e2e servers refresh
    // every 2 s).
    await expect(tenants.getByRole("row", { name: new RegExp(tenantA.name) })).toBeVisible({ timeout: 30_000 });
    await expect(page.getByRole("heading", { name: "Needs attention" })).toBeVisible();
    await accessible(page, "the MSP console");
    await shot(page, "console");
    const total = page.locator(".console .big").first();
    const before = Number(await total.textContent());
    await enroll("CONSOLE-KIOSK-01");
    await expect(total).toHaveText(String(before + 1), { timeout: 30_000 });
    // Find a device in every tenant at once.
    await page.getByRole("searchbox", { name: /Name, user, serial number, identifier or IP address/ }).fill("console-kiosk");
    await page.getByRole("button", { name: "Find" }).click();
    const found = page.getByRole("row", { name: /CONSOLE-KIOSK-01/ });
    await expect(found).toContainText(tenantA.name);
    await accessible(page, "the search across tenants");
    await found.getByRole("link", { name: "CONSOLE-KIOSK-01" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toContainText("CONSOLE-KIOSK-01");
  });

  test("a baseline: make it, add a rule and settings, assign it, promote a ring, see each tenant's drift", async ({ page, context }) => {
    await context.clearCookies();
    await signIn(page, world.users.msp);
    await page.getByRole("link", { name: "Baselines" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Baselines" })).toBeVisible();
    await page.getByLabel("Name", { exact: true }).fill("Standard workstation");
    await page.getByRole("button", { name: "Make the baseline" }).click();
    await expect(page.getByRole("status")).toContainText("The baseline is made");
    const add = page.getByRole("form", { name: /Add a rule/ });
    await add.getByLabel(/^Key/).fill("disk");
    await add.getByLabel("Rule's name").fill("Disk encrypted");
    await add.getByRole("combobox", { name: "Checks" }).selectOption("disk_encrypted");
    await add.getByRole("button", { name: "Add the rule" }).click();
    await expect(page.getByText("Version 2", { exact: false })).toBeVisible();
    const settings = page.getByRole("form", { name: "Add Windows settings" });
    await settings.getByLabel(/^Key/).fill("lock");
    await settings.getByLabel("Name").fill("Lock screen");
    await settings.getByRole("textbox", { name: /A setting a line/ }).fill("./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock = 5");
    await settings.getByRole("button", { name: "Add the settings" }).click();
    await expect(page.getByText("Version 3", { exact: false })).toBeVisible();
    await expect(page.getByRole("cell", { name: /Settings: Lock screen/ })).toBeVisible();
    await page.getByRole("form", { name: "For" }).getByRole("textbox").fill("all");
    await page.getByRole("button", { name: "Save whom it is for" }).click();
    await page.getByRole("textbox", { name: /One ring a line/ }).fill(`pilot: tenant:${tenantA.slug}`);
    await page.getByRole("button", { name: "Save the rings" }).click();
    await expect(page.getByRole("cell", { name: "pilot", exact: true })).toBeVisible();
    await page.getByRole("button", { name: "Promote everyone" }).click();
    await expect(page.getByRole("status")).toContainText("The ring is promoted");
    // Applied in the background: each tenant's drift says so.
    await expect(async () => {
      await page.reload();
      await expect(page.getByRole("row", { name: new RegExp(tenantA.name) })).toContainText("disk applied", { timeout: 1_000 });
    }).toPass({ timeout: 30_000 });
    await accessible(page, "a baseline's page");
    await shot(page, "baseline");
  });

  test("a command to many tenants: count, send, follow each tenant", async ({ page, context }) => {
    await context.clearCookies();
    await signIn(page, world.users.msp);
    await page.getByRole("link", { name: "Commands to many tenants" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Commands to many tenants" })).toBeVisible();
    const form = page.getByRole("form", { name: "A command to many tenants" });
    await form.getByRole("combobox", { name: "Command" }).selectOption("device_information");
    await form.getByRole("combobox", { name: "Devices" }).selectOption("windows");
    await form.getByRole("checkbox", { name: tenantA.name }).check();
    await form.getByRole("button", { name: "Count the devices" }).click();
    await expect(page.getByRole("heading", { name: /It reaches \d+ devices/ })).toBeVisible();
    await accessible(page, "the operations page with a dry run");
    // The form keeps what was chosen; now send it.
    await expect(form.getByRole("checkbox", { name: tenantA.name })).toBeChecked();
    await form.getByRole("button", { name: "Send" }).click();
    await expect(page.getByRole("status")).toContainText("The operation started");
    const part = page.getByRole("row", { name: new RegExp(tenantA.name) });
    await expect(part).toContainText(/queued \d+|sent \d+|acknowledged \d+/, { timeout: 30_000 });
    await accessible(page, "an operation's page");
    await shot(page, "operation");
  });
});

test("save the list's filters as a view and come back to them", async ({ page }) => {
  await page.goto(tenantPath(tenantA, "devices"));
  // Filtered in place (htmx swaps the rows): the view saves these filters.
  await page.locator("#platform").selectOption("apple");
  await expect(page).toHaveURL(/platform=apple/);
  await expect(page.locator(".count")).toHaveText("1 device");
  await page.getByText("Save this view").click();
  await page.getByLabel("Name", { exact: true }).fill("Macs");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status")).toContainText("The view is saved");
  await page.goto(tenantPath(tenantA, "devices"));
  await page.getByRole("navigation", { name: "Saved views" }).getByRole("link", { name: "Macs" }).click();
  await expect(page).toHaveURL(/platform=apple/);
  await expect(page.locator("#device-rows")).toContainText(world.mac.name);
  await accessible(page, "devices with a saved view");
});

test("choose the list's columns, and the choice stays", async ({ page }) => {
  await page.goto(tenantPath(tenantA, "devices"));
  const serial = page.getByRole("columnheader", { name: "Serial" });
  await expect(serial).toBeVisible();
  await page.getByText("Columns", { exact: true }).click();
  await page.getByRole("checkbox", { name: "Serial" }).uncheck();
  await expect(serial).toBeHidden();
  await page.reload();
  await expect(serial).toBeHidden();
  await page.getByText("Columns", { exact: true }).click();
  await page.getByRole("checkbox", { name: "Serial" }).check();
  await expect(serial).toBeVisible();
});

test("a webhook's deliveries and the audit log grow live, as things happen", async ({ page, context }) => {
  // The audit log and the webhook's page are open; someone sends the
  // webhook a test event from a page of their own.
  const log = await context.newPage();
  await log.goto(tenantPath(tenantA, "audit"));
  await page.goto(tenantPath(tenantA, "webhooks"));
  await page.locator("main table a").first().click();
  const deliveries = page.locator("#delivery-rows");
  const pings = deliveries.locator("tr", { hasText: "webhook.ping" });
  const before = await pings.count();
  const other = await context.newPage();
  await other.goto(page.url());
  await other.getByRole("button", { name: "Send a test event" }).click();
  await expect(other.getByRole("status")).toContainText("webhook.ping event is on its way");
  await expect(pings).toHaveCount(before + 1);
  await expect(deliveries.locator("tr").first()).toContainText("webhook.ping");
  await expect(log.locator("#audit-rows tr").first()).toContainText("ping-webhook");
  await shot(page, "webhook-live");
});

test("a command to a group takes typed fields, each saying which devices it is for", async ({ page }) => {
  await page.goto(tenantPath(tenantA, "devices"));
  await page.getByText("Send a command to a group").click();
  const composer = page.locator(".group-composer");
  await composer.getByRole("combobox", { name: "Group" }).selectOption({ label: "Tills" });
  await composer.getByRole("combobox", { name: "Command" }).selectOption("lock");
  const pin = page.getByLabel(/Six-digit PIN to unlock it/);
  await expect(pin).toBeVisible();
  await expect(page.locator("#group-fields")).toContainText("macOS only");
  await pin.fill("12");
  await page.getByRole("button", { name: "Send to the group" }).click();
  // The browser holds a PIN that is not six digits back itself.
  expect(await pin.evaluate((e: HTMLInputElement) => e.validity.patternMismatch)).toBe(true);
  await expect(page.locator("#group-status")).toBeEmpty();
  await pin.fill("123456");
  await page.getByRole("button", { name: "Send to the group" }).click();
  await expect(page.locator("#group-status")).toContainText("lock is being queued for every enrolled device of Tills");
  await accessible(page, "the group composer");
});
