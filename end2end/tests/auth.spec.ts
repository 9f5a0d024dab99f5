import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, expect, banner, docScreenshot, expectAccessible, pauseButton, type ConsoleErrors } from './support';
import type { Page } from '@playwright/test';

// Sign-in and roles (issue 6) against a token-mode server this spec starts
// itself (like server-restart.spec.ts): with its own SQLite file, or on
// PostgreSQL against the run's database.

const root = path.resolve(__dirname, '..', '..');
const bin = process.env.LULL_E2E_BIN ?? path.join(root, 'target', 'release', 'lull');
const suffix = `${Date.now().toString(36)}${process.pid}`;
const OPERATOR = `e2e-ops-${suffix}`;
const VIEWER = `e2e-viewer-${suffix}`;
const WORKER = `e2e-worker-${suffix}`;

let server: ChildProcess | undefined;
let tmp: string | undefined;
let base = '';
const tokens: Record<string, string> = {};

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

test.beforeAll(async () => {
  test.setTimeout(60_000);
  let databaseUrl: string;
  if ((process.env.LULL_E2E_DB ?? 'sqlite') === 'postgres') {
    databaseUrl = process.env.LULL_E2E_DATABASE_URL!;
  } else {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lull-e2e-auth-'));
    databaseUrl = `sqlite://${path.join(tmp, 'lull.db')}`;
  }
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    bin,
    ['serve', '--auth', 'token', '--listen', `127.0.0.1:${port}`, '--database-url', databaseUrl, '--static-dir', path.join(root, 'dist')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  server.stderr?.on('data', () => {});
  await expect
    .poll(async () => {
      try {
        return (await fetch(`${base}/health`)).status;
      } catch {
        return 0;
      }
    }, { timeout: 30_000 })
    .toBe(200);
  // On SQLite the server created the file: tokens go into the same one.
  for (const [name, role] of [[OPERATOR, 'operator'], [VIEWER, 'viewer'], [WORKER, 'worker']]) {
    tokens[name] = execFileSync(bin, ['token', 'create', '--name', name, '--role', role, '--database-url', databaseUrl])
      .toString()
      .trim();
  }
});

test.afterAll(async () => {
  // The pause state is shared with the main server on PostgreSQL: leave it running.
  if (tokens[OPERATOR]) {
    await fetch(`${base}/api/system/worker-pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[OPERATOR]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'resume', reason: 'e2e: auth spec done', forceResume: true }),
    }).catch(() => {});
  }
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const tokenField = (page: Page) => page.getByLabel('Access token');

async function signIn(page: Page, name: string) {
  await page.goto(`${base}/`);
  await tokenField(page).fill(tokens[name]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Signed in as ${name}`)).toBeVisible();
  await expect(banner(page)).toContainText('Workers: ');
}

/** 401s from the sign-in attempts and signed-out calls are expected. */
const allow401 = (c: ConsoleErrors) => c.allow(/status of 401|status of 403/);

test('the sign-in form: accessible, a bad token is explained next to the field', async ({ page, consoleErrors }) => {
  allow401(consoleErrors);
  await page.goto(`${base}/`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(pauseButton(page)).toHaveCount(0);
  await expectAccessible(page, 'sign-in form');
  await tokenField(page).fill('lull_not-a-real-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#token-error')).toHaveText('Not signed in: invalid or revoked token.');
  await expect(tokenField(page)).toHaveAttribute('aria-invalid', 'true');
  await expect(tokenField(page)).toHaveAttribute('aria-describedby', 'token-error');
  await expect(tokenField(page)).toBeFocused();
  await expectAccessible(page, 'sign-in form with an error');
  if (process.env.LULL_E2E_SCREENSHOTS === '1') await docScreenshot(page, 'dashboard-sign-in');
});

test('an operator signs in, pauses from the dashboard, and is the actor in the audit', async ({ page, request }) => {
  await signIn(page, OPERATOR);
  await expect(page.getByText(`Signed in as ${OPERATOR} (operator)`)).toBeVisible();
  const state = await (await request.get(`${base}/api/system/worker-pause`, { headers: { authorization: `Bearer ${tokens[OPERATOR]}` } })).json();
  if (state.workersPaused) {
    await page.getByLabel('Reason (required)').nth(1).fill('e2e: start running');
    await page.getByRole('button', { name: 'Resume workers' }).click();
    const cont = page.getByRole('button', { name: 'Continue' });
    if (await cont.isVisible().catch(() => false)) await cont.click();
    await expect(banner(page)).toContainText('Workers: Running');
  }
  await page.getByLabel('Reason (required)').first().fill('e2e: signed-in pause');
  await pauseButton(page).click();
  await expect(banner(page)).toContainText('Workers: Paused');
  await expect(banner(page)).toContainText(OPERATOR);

  const res = await request.get(`${base}/api/system/worker-pause/events?limit=1`, {
    headers: { authorization: `Bearer ${tokens[OPERATOR]}` },
  });
  const events = (await res.json()).events;
  expect(events[0]).toMatchObject({ action: 'pause', actor: OPERATOR, reason: 'e2e: signed-in pause' });

  // The Workers tab has its controls too.
  await page.getByRole('link', { name: 'Workers', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Drain', exact: true })).toBeVisible();
});

test('a cross-site POST with the session cookie is refused', async ({ page, playwright }) => {
  await signIn(page, OPERATOR);
  const cookie = (await page.context().cookies()).find((c) => c.name === 'lull_session');
  expect(cookie, 'the session cookie').toBeTruthy();
  expect(cookie!.httpOnly).toBe(true);
  expect(cookie!.sameSite).toBe('Strict');
  // An opaque session id, not the token (issue 15).
  expect(cookie!.value).not.toContain(tokens[OPERATOR].split('_').pop()!);
  const api = await playwright.request.newContext();
  try {
    const res = await api.post(`${base}/api/system/worker-pause`, {
      headers: { cookie: `lull_session=${cookie!.value}`, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
      data: { action: 'resume', reason: 'csrf', forceResume: true },
    });
    expect(res.status()).toBe(403);
    const sfn = await api.post(`${base}/sfn/change_pause`, {
      headers: { cookie: `lull_session=${cookie!.value}`, origin: 'http://evil.example' },
      form: { 'request[action]': 'resume', 'request[reason]': 'csrf' },
    });
    expect(sfn.status()).toBe(403);
  } finally {
    await api.dispose();
  }
});

test('a viewer reads the jobs and the queues, with no action on them', async ({ page, request }) => {
  // One failed job in a queue of its own, enqueued and failed over REST with the operator's token.
  const auth = { authorization: `Bearer ${tokens[OPERATOR]}` };
  const queue = `e2e-viewer-${Date.now().toString(36)}`;
  const enq = await request.post(`${base}/api/queue/jobs`, { headers: auth, data: { type: 'e2e.viewer', queue, maxAttempts: 1 } });
  expect(enq.status(), await enq.text()).toBe(201);
  const job = (await enq.json()).id as string;
  // An earlier test leaves the fleet paused: resume it so the worker can claim.
  const resumed = await request.post(`${base}/api/system/worker-pause`, {
    headers: auth,
    data: { action: 'resume', reason: 'e2e: let the worker claim', forceResume: true },
  });
  expect(resumed.status(), await resumed.text()).toBe(200);
  const wauth = { authorization: `Bearer ${tokens[WORKER]}` };
  const claim = await request.post(`${base}/api/queue/jobs/claim`, { headers: wauth, data: { workerId: WORKER, queues: [queue] } });
  const claimed = (await claim.json()).job;
  expect(claimed?.id, 'the worker claimed the job').toBe(job);
  const fail = await request.post(`${base}/api/queue/jobs/${job}/fail`, {
    headers: wauth,
    data: { workerId: WORKER, leaseToken: claimed.leaseToken, error: 'e2e: boom', retryable: false },
  });
  expect(fail.status(), await fail.text()).toBe(200);

  await signIn(page, VIEWER);
  await expect(page.locator(`#queues tr[data-queue="${queue}"]`)).toBeVisible();
  await expect(page.getByRole('button', { name: `Pause ${queue}` })).toHaveCount(0);
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.getByLabel('Queue').selectOption(queue);
  await expect(page.locator(`#jobs tr[data-job-id="${job}"]`)).toContainText('failed');
  await expect(page.getByRole('button', { name: /^Retry \d+ failed job/ })).toHaveCount(0);
  await page.locator(`#jobs tr[data-job-id="${job}"]`).getByRole('link').click();
  await expect(page.getByRole('region', { name: 'Error' })).toHaveText('e2e: boom');
  await expect(page.getByRole('button', { name: 'Retry job' })).toHaveCount(0);
  await expectAccessible(page, 'a job as a viewer');
});

test('a viewer sees no Pause button and no worker actions', async ({ page }) => {
  await signIn(page, VIEWER);
  await expect(page.getByText(`Signed in as ${VIEWER} (viewer)`)).toBeVisible();
  await expect(pauseButton(page)).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Resume workers' })).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Audit history' })).toBeVisible();
  await page.getByRole('link', { name: 'Workers', exact: true }).click();
  await expect(page.locator('#fleet')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Drain', exact: true })).toHaveCount(0);
  await expect(page.getByRole('checkbox')).toHaveCount(0);
  await expectAccessible(page, 'workers tab as a viewer');
});

test('sign out returns to the form, and so does a call refused for want of a session', async ({ page, consoleErrors, playwright }) => {
  allow401(consoleErrors);
  await signIn(page, OPERATOR);
  const session = (await page.context().cookies()).find((c) => c.name === 'lull_session')!.value;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(tokenField(page)).toBeFocused();
  await expect(pauseButton(page)).toHaveCount(0);
  expect((await page.context().cookies()).find((c) => c.name === 'lull_session')).toBeUndefined();
  // Sign-out ended the session on the server: the old cookie, replayed, is refused.
  const api = await playwright.request.newContext();
  try {
    const replay = await api.get(`${base}/status`, { headers: { cookie: `lull_session=${session}` } });
    expect(replay.status()).toBe(401);
  } finally {
    await api.dispose();
  }

  // Signed in again, then the cookie disappears behind the page's back:
  // the next call answers 401 and the page shows the form, not "unreachable".
  await tokenField(page).fill(tokens[OPERATOR]);
  // Signed in, the page asks for the status at once: let that call finish
  // first, so the call refused below is the one the click makes.
  const polled = page.waitForResponse((r) => r.url().endsWith('/sfn/get_pause_state'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Signed in as ${OPERATOR}`)).toBeVisible();
  expect((await polled).status()).toBe(200);
  await page.context().clearCookies();
  await page.getByRole('link', { name: 'Workers', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible({ timeout: 10_000 });
  await expect(page.getByText('Signed in as')).toBeHidden();
});
