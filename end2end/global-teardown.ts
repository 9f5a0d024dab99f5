import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Removes what playwright.config.ts made for this run (unless LULL_E2E_KEEP_DB=1):
// the temp dir of the SQLite file, or the PostgreSQL database.
//
// Playwright runs this BEFORE it stops the webServer, so the PostgreSQL
// database is dropped by a small detached shell that waits (at most 30 s) for
// the server's health URL to stop answering, then drops it WITH (FORCE).
export default async function globalTeardown(): Promise<void> {
  if (process.env.LULL_E2E_KEEP_DB === '1') {
    console.log(`[e2e] keeping database ${process.env.LULL_E2E_DATABASE_URL}`);
    return;
  }
  const db = process.env.LULL_E2E_DB ?? 'sqlite';
  if (db === 'sqlite') {
    const file = process.env.LULL_E2E_SQLITE_FILE;
    if (file && path.basename(path.dirname(file)).startsWith('lull-e2e-')) {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
    return;
  }
  const name = process.env.LULL_E2E_PG_DB;
  if (!name || !/^lull_e2e_[a-z0-9_]+$/.test(name)) return;
  const health = `http://127.0.0.1:${process.env.LULL_E2E_PORT ?? '18080'}/health`;
  const script = [
    'i=0',
    `while [ "$i" -lt 150 ] && curl -fs -o /dev/null --max-time 1 "$HEALTH"; do sleep 0.2; i=$((i+1)); done`,
    `exec psql -w -q -h "$PGH" -p "$PGP" -U "$PGU" -d postgres -c "DROP DATABASE IF EXISTS ${name} WITH (FORCE)"`,
  ].join('; ');
  const child = spawn('sh', ['-c', script], {
    detached: true,
    stdio: 'ignore',
    env: {
      ...process.env,
      HEALTH: health,
      PGH: process.env.LULL_E2E_PG_HOST ?? '127.0.0.1',
      PGP: process.env.LULL_E2E_PG_PORT ?? '5432',
      PGU: process.env.LULL_E2E_PG_USER ?? 'postgres',
    },
  });
  child.unref();
}
