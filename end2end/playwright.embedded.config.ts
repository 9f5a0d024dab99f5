import { defineConfig } from '@playwright/test';
import * as os from 'node:os';
import * as path from 'node:path';

// The single-binary check (issue #19): the release `lull` is copied into an
// empty temp directory and started there with no --static-dir and no dist/
// anywhere it could see, so everything the browser gets comes from the
// dashboard embedded in the binary. Build it first (scripts/test.sh does):
//   trunk build --release && cargo build --release -p server
//
// Run:  npx --no-install playwright test -c playwright.embedded.config.ts
//
// Environment:
//   LULL_E2E_PORT  port the server listens on (default 18081)
//   LULL_E2E_BIN   server binary to copy (default ../target/release/lull)

const port = Number(process.env.LULL_E2E_PORT ?? '18081');
const baseURL = `http://127.0.0.1:${port}`;
const root = path.resolve(__dirname, '..');
const lullBin = process.env.LULL_E2E_BIN ?? path.join(root, 'target', 'release', 'lull');

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// Computed once by the runner, handed to its workers and the teardown.
process.env.LULL_E2E_EMBEDDED_DIR ??= path.join(os.tmpdir(), `lull-e2e-embedded-${Date.now()}_${process.pid}`);
const dir = process.env.LULL_E2E_EMBEDDED_DIR;

const command = [
  `rm -rf ${q(dir)}`,
  `mkdir -p ${q(dir)}`,
  `cp ${q(lullBin)} ${q(path.join(dir, 'lull'))}`,
  `cd ${q(dir)}`,
  // Only the binary is here; LULL_STATIC_DIR must not point elsewhere.
  `exec env -u LULL_STATIC_DIR -u LULL_CONFIG ./lull serve --listen ${q(`127.0.0.1:${port}`)} ` +
    `--database-url ${q(`sqlite://${dir}/lull.db`)}`,
].join(' && ');

export default defineConfig({
  testDir: './embedded',
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: 'list',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  globalTeardown: './embedded/teardown.ts',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's chromium; never `npx playwright install`.
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium-embedded' }],
  webServer: {
    command,
    cwd: os.tmpdir(),
    url: `${baseURL}/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
