import { defineConfig } from '@playwright/test';
import * as os from 'node:os';
import * as path from 'node:path';

// End-to-end tests against the release `lull` binary and the Trunk-built
// dashboard in ../dist. Build both first (scripts/test.sh does):
//   trunk build --release && cargo build --release -p server
//
// Environment:
//   LULL_E2E_DB            sqlite (default) | postgres
//   LULL_E2E_PORT          port the server listens on (default 18080)
//   LULL_E2E_PG_HOST/PORT/USER  PostgreSQL admin login (default 127.0.0.1 / 5432 / postgres, trust auth)
//   LULL_E2E_BIN           server binary (default ../target/release/lull)
//   LULL_E2E_KEEP_DB=1     keep the SQLite file / PostgreSQL database afterwards
//
// This file is loaded by the runner and again by every worker: whatever must be
// the same everywhere (temp dir, database name) is computed once and handed
// down through process.env, and the only side effects (deleting the SQLite
// file, CREATE DATABASE) run in the webServer command, i.e. only when the
// server actually starts (not for `playwright test --list`).

const db = process.env.LULL_E2E_DB ?? 'sqlite';
if (db !== 'sqlite' && db !== 'postgres') {
  throw new Error(`LULL_E2E_DB must be "sqlite" or "postgres", got "${db}"`);
}
const port = Number(process.env.LULL_E2E_PORT ?? '18080');
const baseURL = `http://127.0.0.1:${port}`;

const pgHost = process.env.LULL_E2E_PG_HOST ?? '127.0.0.1';
const pgPort = process.env.LULL_E2E_PG_PORT ?? '5432';
const pgUser = process.env.LULL_E2E_PG_USER ?? 'postgres';

const root = path.resolve(__dirname, '..');
const lullBin = process.env.LULL_E2E_BIN ?? path.join(root, 'target', 'release', 'lull');
const staticDir = path.join(root, 'dist');

// Shell single-quoting for the webServer command line.
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

process.env.LULL_E2E_RUN_ID ??= `${Date.now()}_${process.pid}`;
const runId = process.env.LULL_E2E_RUN_ID;

let databaseUrl: string;
let prepare: string;
if (db === 'sqlite') {
  process.env.LULL_E2E_SQLITE_FILE ??= path.join(os.tmpdir(), `lull-e2e-${runId}`, 'lull.db');
  const file = process.env.LULL_E2E_SQLITE_FILE;
  // The server creates a missing SQLite file itself (as for its ./data/lull.db default).
  databaseUrl = `sqlite://${file}`;
  prepare = `rm -f ${q(file)} ${q(file + '-wal')} ${q(file + '-shm')} && mkdir -p ${q(path.dirname(file))}`;
} else {
  process.env.LULL_E2E_PG_DB ??= `lull_e2e_${runId}`;
  const name = process.env.LULL_E2E_PG_DB;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  databaseUrl = `postgres://${pgUser}@${pgHost}:${pgPort}/${name}`;
  prepare =
    `psql -w -v ON_ERROR_STOP=1 -h ${q(pgHost)} -p ${q(pgPort)} -U ${q(pgUser)} -d postgres ` +
    `-c ${q(`CREATE DATABASE ${name}`)}`;
}
process.env.LULL_E2E_DATABASE_URL = databaseUrl;

const serve = [
  q(lullBin),
  'serve',
  '--listen', q(`127.0.0.1:${port}`),
  '--database-url', q(databaseUrl),
  '--static-dir', q(staticDir),
].join(' ');

export default defineConfig({
  testDir: './tests',
  // The tests share one server and its state.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: 'list',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  globalTeardown: './global-teardown.ts',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's chromium; never `npx playwright install`.
      executablePath: '/usr/bin/chromium',
      // Root, offline machine.
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
  projects: [{ name: `chromium-${db}` }],
  webServer: {
    command: `${prepare} && exec ${serve}`,
    cwd: __dirname,
    url: `${baseURL}/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
