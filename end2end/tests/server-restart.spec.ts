import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, expect, banner, linkIndicator } from './support';

// The real thing: the server the page talks to stops (killed) and comes
// back. The shared webServer must not stop, so this test starts its own
// `lull serve` on a free port: with its own SQLite file, or on PostgreSQL
// against the run's database (a second replica, as in production).

const root = path.resolve(__dirname, '..', '..');
const bin = process.env.LULL_E2E_BIN ?? path.join(root, 'target', 'release', 'lull');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function serve(port: number, databaseUrl: string): ChildProcess {
  const child = spawn(
    bin,
    ['serve', '--listen', `127.0.0.1:${port}`, '--database-url', databaseUrl, '--static-dir', path.join(root, 'dist')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', () => {});
  return child;
}

async function waitHealthy(port: number) {
  await expect
    .poll(
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/health`)).status;
        } catch {
          return 0;
        }
      },
      { timeout: 30_000, intervals: [100, 200, 500] },
    )
    .toBe(200);
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test('the disconnected indicator appears when the server stops and clears when it returns', async ({
  page,
  consoleErrors,
}) => {
  test.setTimeout(90_000);
  consoleErrors.allow(/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_FAILED|Failed to fetch/);

  const port = await freePort();
  let databaseUrl: string;
  let tmp: string | undefined;
  if ((process.env.LULL_E2E_DB ?? 'sqlite') === 'postgres') {
    databaseUrl = process.env.LULL_E2E_DATABASE_URL!;
  } else {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lull-e2e-restart-'));
    databaseUrl = `sqlite://${path.join(tmp, 'lull.db')}`;
  }

  let server = serve(port, databaseUrl);
  try {
    await waitHealthy(port);
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect(banner(page)).toContainText('Workers:');
    await expect(linkIndicator(page)).toHaveAttribute('data-link', 'live');

    await stop(server);
    await expect(linkIndicator(page)).toHaveText('Live updates disconnected — data may be stale');

    server = serve(port, databaseUrl);
    await waitHealthy(port);
    await expect(linkIndicator(page)).toHaveAttribute('data-link', 'live', { timeout: 15_000 });
    await expect(linkIndicator(page)).toHaveText('Live');
  } finally {
    await stop(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
});
