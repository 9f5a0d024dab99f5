import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Shared by the dashboard specs: a fixture that fails every test on page
// errors and console errors, REST helpers that put the shared server into a
// known state, and the axe-core check.

export const PAUSE_API = '/api/system/worker-pause';
export const STREAM_API = `${PAUSE_API}/stream`;
export const EVENTS_API = `${PAUSE_API}/events`;
export const JOBS_API = '/api/queue/jobs';

/** The failing network requests a test provokes on purpose show up as
 *  console errors ("Failed to load resource: net::ERR_FAILED"); a test
 *  that provokes them says so with `consoleErrors.allow(/…/)`. */
export interface ConsoleErrors {
  allow(pattern: RegExp): void;
}

export const test = base.extend<{ consoleErrors: ConsoleErrors }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      const allowed: RegExp[] = [];
      page.on('pageerror', (err) => errors.push(`pageerror: ${err.stack ?? err.message}`));
      page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const where = msg.location().url;
        const text = `${msg.text()}${where ? ` (${where})` : ''}`;
        // Chromium asks for /favicon.ico on its own; a 404 there is not the app's error.
        if (/favicon\.ico/.test(text)) return;
        errors.push(`console.error: ${text}`);
      });
      await use({ allow: (p) => allowed.push(p) });
      const unexpected = errors.filter((e) => !allowed.some((p) => p.test(e)));
      expect(unexpected, 'page errors and console errors').toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

// ------------------------------------------------------------------ REST

export async function pauseState(request: APIRequestContext) {
  const res = await request.get(PAUSE_API);
  expect(res.status(), `GET ${PAUSE_API}`).toBe(200);
  return res.json();
}

export async function postPause(request: APIRequestContext, body: Record<string, unknown>) {
  const res = await request.post(PAUSE_API, { data: body });
  expect(res.status(), `POST ${PAUSE_API} ${JSON.stringify(body)}: ${await res.text()}`).toBe(200);
  return res.json();
}

export async function latestEvents(request: APIRequestContext, limit = 5) {
  const res = await request.get(`${EVENTS_API}?limit=${limit}`);
  expect(res.status(), `GET ${EVENTS_API}`).toBe(200);
  return (await res.json()).events as Array<Record<string, any>>;
}

async function jobsIn(request: APIRequestContext, status: string) {
  const res = await request.get(`${JOBS_API}?status=${status}&limit=500`);
  expect(res.status(), `GET ${JOBS_API}?status=${status}`).toBe(200);
  return (await res.json()).jobs as Array<{ id: string }>;
}

/** Known state: no queued or running jobs left by earlier tests, workers
 *  running. Returns the status. */
export async function reset(request: APIRequestContext) {
  for (const status of ['running', 'queued']) {
    for (const job of await jobsIn(request, status)) {
      const res = await request.post(`${JOBS_API}/${job.id}/cancel`);
      expect([200, 404, 409], `cancel ${job.id}: ${await res.text()}`).toContain(res.status());
    }
  }
  const state = await pauseState(request);
  if (state.workersPaused) {
    return postPause(request, { action: 'resume', reason: 'e2e: reset to a known state', forceResume: true });
  }
  return state;
}

export interface Claimed {
  id: string;
  workerId: string;
  leaseToken: string;
}

/** Enqueues `n` jobs and claims them, as workers would (workers must be
 *  running). Long leases: they stay running, not stale, for the test. */
export async function startJobs(request: APIRequestContext, n: number, type = 'e2e.render'): Promise<Claimed[]> {
  const claimed: Claimed[] = [];
  for (let i = 0; i < n; i++) {
    const enq = await request.post(JOBS_API, { data: { type, payload: { n: i } } });
    expect(enq.status(), `enqueue: ${await enq.text()}`).toBe(201);
    const workerId = `e2e-worker-${i + 1}`;
    const res = await request.post(`${JOBS_API}/claim`, { data: { workerId, leaseSeconds: 600 } });
    expect(res.status(), `claim: ${await res.text()}`).toBe(200);
    const body = await res.json();
    expect(body.job, 'a job was claimed').not.toBeNull();
    claimed.push({ id: body.job.id, workerId, leaseToken: body.job.leaseToken });
  }
  return claimed;
}

export async function completeJob(request: APIRequestContext, job: Claimed) {
  const res = await request.post(`${JOBS_API}/${job.id}/complete`, {
    data: { workerId: job.workerId, leaseToken: job.leaseToken, result: { ok: true } },
  });
  expect(res.status(), `complete: ${await res.text()}`).toBe(200);
}

export async function holdAtCheckpoint(request: APIRequestContext, job: Claimed) {
  const res = await request.post(`${JOBS_API}/${job.id}/heartbeat`, {
    data: { workerId: job.workerId, leaseToken: job.leaseToken, pausedAtCheckpoint: true },
  });
  expect(res.status(), `heartbeat: ${await res.text()}`).toBe(200);
}

// ------------------------------------------------------------------ page

/** The page, loaded, with the banner showing a known state and the live
 *  stream connected. */
export async function openDashboard(page: Page, expectTitle?: string) {
  await page.goto('/');
  await expect(banner(page)).toContainText(expectTitle ?? 'Workers:');
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'live');
}

export const banner = (page: Page) => page.getByRole('status', { name: 'Workers', exact: true });
export const linkIndicator = (page: Page) => page.locator('.link[role="status"]');
export const pauseButton = (page: Page) => page.getByRole('button', { name: 'Pause workers' });
export const resumeButton = (page: Page) => page.getByRole('button', { name: 'Resume workers' });
export const notice = (page: Page) => page.locator('#controls-notice');

/** Runs axe-core over the page as it is; fails on any violation. */
export async function expectAccessible(page: Page, state: string) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  const summary = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  expect(summary, `axe violations in state "${state}"`).toEqual([]);
}

/** Saves a screenshot for docs/dashboard.md under docs/img/. */
export async function docScreenshot(page: Page, name: string, fullPage = false) {
  const dir = path.resolve(__dirname, '..', '..', 'docs', 'img');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage, animations: 'disabled' });
}

// ------------------------------------------------------------------ fleet

export const WORKERS_API = '/api/workers';

/** A unique worker id for this test run. */
export const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;

export async function listWorkers(request: APIRequestContext) {
  const res = await request.get(WORKERS_API);
  expect(res.status(), `GET ${WORKERS_API}`).toBe(200);
  return (await res.json()).workers as Array<Record<string, any>>;
}

/** Registers a simulated worker (as `lull-worker` would) and reports it
 *  running. Returns its boot id. */
export async function registerWorker(request: APIRequestContext, workerId: string, bootId = uniqueId('boot')) {
  const res = await request.post(`${WORKERS_API}/register`, {
    data: { workerId, bootId, name: workerId, hostname: `host-${workerId}`, version: '1.2.3' },
  });
  expect(res.status(), `register ${workerId}: ${await res.text()}`).toBe(200);
  await workerHeartbeat(request, workerId, bootId, 'running');
  return bootId;
}

/** One worker heartbeat; returns the server's directive. */
export async function workerHeartbeat(request: APIRequestContext, workerId: string, bootId: string, state: string) {
  const res = await request.post(`${WORKERS_API}/${encodeURIComponent(workerId)}/heartbeat`, {
    data: { bootId, state, activeJobs: [] },
  });
  expect(res.status(), `heartbeat ${workerId}: ${await res.text()}`).toBe(200);
  return (await res.json()).directive as string;
}

/** Known state for fleet tests: no rolling restart running, and every
 *  worker left by earlier tests paused (so it counts as unavailable and
 *  the safety rule only sees the test's own workers). */
export async function quietFleet(request: APIRequestContext) {
  const rr = await request.get(`${WORKERS_API}/rolling-restarts`);
  if (rr.status() === 200) {
    const body = await rr.json();
    const list = (Array.isArray(body) ? body : body.rollingRestarts ?? body.items ?? []) as Array<Record<string, any>>;
    for (const r of list.filter((r) => r.status === 'running')) {
      await request.post(`${WORKERS_API}/rolling-restarts/${r.id}/cancel`);
    }
  }
  const ids = (await listWorkers(request)).filter((w) => w.desiredState === 'active').map((w) => w.id);
  if (ids.length === 0) return;
  const data: Record<string, unknown> = { action: 'pause', workerIds: ids, reason: 'e2e: quiet the fleet' };
  let res = await request.post(`${WORKERS_API}/actions`, { data });
  if (res.status() === 409) {
    data.confirm = (await res.json()).confirmPhrase;
    res = await request.post(`${WORKERS_API}/actions`, { data });
  }
  expect(res.status(), `pause leftovers: ${await res.text()}`).toBe(200);
}

export const workerRow = (page: Page, id: string) => page.locator(`tr[data-worker-id="${id}"]`);

/** The dashboard's Workers tab, loaded. */
export async function openWorkers(page: Page) {
  await openDashboard(page);
  await page.getByRole('link', { name: 'Workers', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Workers', exact: true })).toBeVisible();
  await expect(page.locator('#fleet')).toBeVisible();
}

// ------------------------------------------------------------------ routes and jobs

/** The dashboard's pages: path, the heading that says it loaded, the nav link marked current. */
export const ROUTES = [
  { path: '/', heading: 'Pause and resume', nav: 'Overview' },
  { path: '/workers', heading: 'Workers', nav: 'Workers' },
  { path: '/jobs', heading: 'Jobs', nav: 'Jobs' },
  { path: '/audit', heading: 'Audit log', nav: 'Audit log' },
] as const;

export const nav = (page: Page) => page.getByRole('navigation', { name: 'Sections' });

/** Fails unless the page is loaded: the banner shows a state, the route's
 *  heading is there, and the nav marks its link (only its link) current. */
export async function expectRoute(page: Page, heading: string, navName: string) {
  await expect(banner(page)).toContainText(/Workers: (Running|Paused)/);
  await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
  await expect(nav(page).getByRole('link', { name: navName, exact: true })).toHaveAttribute('aria-current', 'page');
  await expect(nav(page).locator('[aria-current="page"]')).toHaveCount(1);
}

/** Fails when the page scrolls sideways. */
export async function expectNoSideScroll(page: Page) {
  const overflow = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  expect(overflow.scroll, 'no horizontal scroll').toBeLessThanOrEqual(overflow.client);
}

export async function enqueueJob(request: APIRequestContext, type: string, payload: unknown = {}, maxAttempts = 3) {
  const res = await request.post(JOBS_API, { data: { type, payload, maxAttempts } });
  expect(res.status(), `enqueue: ${await res.text()}`).toBe(201);
  return (await res.json()) as Record<string, any>;
}

/** Claims the next job of `type` as `workerId` (workers must be running). */
export async function claimJob(request: APIRequestContext, type: string, workerId: string): Promise<Claimed> {
  const res = await request.post(`${JOBS_API}/claim`, { data: { workerId, types: [type], leaseSeconds: 600 } });
  expect(res.status(), `claim: ${await res.text()}`).toBe(200);
  const body = await res.json();
  expect(body.job, `a ${type} job was claimed`).not.toBeNull();
  return { id: body.job.id, workerId, leaseToken: body.job.leaseToken };
}

export async function failJob(request: APIRequestContext, job: Claimed, error: string) {
  const res = await request.post(`${JOBS_API}/${job.id}/fail`, {
    data: { workerId: job.workerId, leaseToken: job.leaseToken, error, retryable: false },
  });
  expect(res.status(), `fail: ${await res.text()}`).toBe(200);
}

export async function getJob(request: APIRequestContext, id: string) {
  const res = await request.get(`${JOBS_API}/${id}`);
  expect(res.status(), `GET job ${id}`).toBe(200);
  return (await res.json()) as Record<string, any>;
}
