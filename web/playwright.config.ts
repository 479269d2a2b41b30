// The dashboard's browser suite. e2e/playwright_test.go starts Trident
// (serve and worker on a throwaway PostgreSQL, the dev identity provider,
// simulated devices) and runs this with the world it made in
// TRIDENT_E2E_WORLD; run it through `go test ./e2e -run TestPlaywright`
// (scripts/test does). Chromium is Debian's (CHROMIUM): Playwright
// downloads no browser.
import { defineConfig } from "@playwright/test";

const out = process.env.PLAYWRIGHT_OUTPUT ?? "test-results";

export default defineConfig({
  testDir: "./browser",
  outputDir: `${out}/results`,
  // One server on a two-core machine: one browser at a time.
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["html", { outputFolder: `${out}/report`, open: "never" }]],
  use: {
    viewport: { width: 1280, height: 860 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      // *.trident.test is this machine; the closed network refuses
      // Chromium's own background connections, so they are off.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP *.trident.test 127.0.0.1, MAP trident.test 127.0.0.1",
      ],
    },
  },
});
