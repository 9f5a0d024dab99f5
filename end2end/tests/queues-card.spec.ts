import type { APIRequestContext, Page } from '@playwright/test';
import {
  test,
  expect,
  reset,
  uniqueId,
  openDashboard,
  expectAccessible,
  expectNoSideScroll,
  JOBS_API,
  EVENTS_API,
} from './support';

// The overview's Queues card (issue 13): each queue's state and live
// counts, pause (mode, reason, timed) and resume with a confirmation —
// every change checked over the REST API.

const QUEUES_API = '/api/queues';
let paused: string[] = [];

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  // A paused queue would hold the jobs of later tests: resume what this test paused.
  for (const name of paused) {
    const q = await (await request.get(`${QUEUES_API}/${name}`)).json();
    if (q.paused) {
      const res = await request.post(`${QUEUES_API}/${name}/resume`, { data: { reason: 'e2e: reset', forceResume: true } });
      expect(res.status(), await res.text()).toBe(200);
    }
  }
  paused = [];
  await reset(request);
});

async function queueInfo(request: APIRequestContext, name: string) {
  const res = await request.get(`${QUEUES_API}/${name}`);
  expect(res.status()).toBe(200);
  return res.json();
}

/** A queue of its own with two jobs, one of them running. */
async function busyQueue(request: APIRequestContext) {
  const name = uniqueId('e2e-q');
  paused.push(name);
  for (const n of [1, 2]) {
    const res = await request.post(JOBS_API, { data: { type: 'e2e.queue', queue: name, payload: { n } } });
    expect(res.status(), await res.text()).toBe(201);
  }
  const res = await request.post(`${JOBS_API}/claim`, { data: { workerId: 'e2e-queue-worker', queues: [name], leaseSeconds: 600 } });
  expect((await res.json()).job, 'one job of the queue runs').not.toBeNull();
  return name;
}

const row = (page: Page, name: string) => page.locator(`#queues tr[data-queue="${name}"]`);

test('a queue is paused and resumed from the Queues card', async ({ page, request }) => {
  const name = await busyQueue(request);
  await openDashboard(page);
  const r = row(page, name);
  await expect(r.locator('[data-col="state"]')).toContainText('Running');
  await expect(r.locator('[data-col="queued"]')).toHaveText('1');
  await expect(r.locator('[data-col="running"]')).toHaveText('1');
  await expect(r.locator('[data-col="scheduled"]')).toHaveText('0');

  // Asks first; Escape changes nothing.
  const open = r.getByRole('button', { name: `Pause ${name}` });
  await open.click();
  const dialog = page.getByRole('dialog', { name: `Pause queue ${name}?` });
  await expect(dialog).toContainText('1 queued now');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await expect(dialog.getByRole('button', { name: 'Pause queue' })).toBeDisabled();
  await expectAccessible(page, 'queue pause dialog');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(open).toBeFocused();
  expect((await queueInfo(request, name)).paused).toBe(false);

  // Quiesce, with a reason and a timed end.
  await open.click();
  await dialog.getByLabel('Quiesce').check();
  await dialog.getByLabel('Reason (required)').fill('e2e: mail provider down');
  await dialog.getByLabel(/Resume automatically after/).fill('30');
  const before = Date.now();
  await dialog.getByRole('button', { name: 'Pause queue' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.locator('#queues-notice')).toHaveText(`Queue ${name} paused (quiesce).`);
  await expect(page.locator('#queues-notice')).toBeFocused();
  await expect(r.locator('[data-col="state"]')).toContainText('Paused (quiesce)');
  await expect(r.locator('[data-col="state"]')).toContainText('e2e: mail provider down');
  const q = await queueInfo(request, name);
  expect(q).toMatchObject({ paused: true, mode: 'quiesce', reason: 'e2e: mail provider down', actor: 'local' });
  const until = Date.parse(q.until);
  expect(until).toBeGreaterThan(before + 29 * 60_000);
  expect(until).toBeLessThan(Date.now() + 31 * 60_000);
  // The pause holds: a claim of the queue gets nothing.
  const claim = await request.post(`${JOBS_API}/claim`, { data: { workerId: 'e2e-queue-worker-2', queues: [name] } });
  expect((await claim.json()).job).toBeNull();
  await expectAccessible(page, 'overview with a paused queue');

  // Resume before it drained: the confirmation says what still runs.
  await r.getByRole('button', { name: `Resume ${name}` }).click();
  const resume = page.getByRole('dialog', { name: `Resume queue ${name}?` });
  await expect(resume).toContainText(`1 job of ${name} still runs`);
  await expect(resume).toContainText('forceResume');
  await resume.getByLabel('Reason (required)').fill('e2e: provider back');
  await resume.getByRole('button', { name: 'Resume queue' }).click();
  await expect(r.locator('[data-col="state"]')).toContainText('Running');
  await expect(page.locator('#queues-notice')).toContainText(`Queue ${name} resumed.`);
  expect((await queueInfo(request, name)).paused).toBe(false);
  const events = (await (await request.get(`${EVENTS_API}?action=queue.resume&limit=1`)).json()).events;
  expect(events[0]).toMatchObject({ action: 'queue.resume', queue: name, reason: 'e2e: provider back', actor: 'local', forceResume: true });
});

test('the card follows changes made elsewhere, and a stale version is refused', async ({ page, request, consoleErrors }) => {
  // The refused pause below is answered 409, which Chromium logs.
  consoleErrors.allow(/status of 409/);
  const name = await busyQueue(request);
  await openDashboard(page);
  const r = row(page, name);
  await expect(r.locator('[data-col="state"]')).toContainText('Running');
  // Someone pauses and resumes it over REST while the dialog is open.
  await r.getByRole('button', { name: `Pause ${name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Pause queue ${name}?` });
  for (const [path, data] of [
    ['pause', { mode: 'drain', reason: 'e2e: elsewhere' }],
    ['resume', { reason: 'e2e: elsewhere done', forceResume: true }],
  ] as const) {
    const res = await request.post(`${QUEUES_API}/${name}/${path}`, { data });
    expect(res.status(), await res.text()).toBe(200);
  }
  await dialog.getByLabel('Reason (required)').fill('e2e: too late');
  await dialog.getByRole('button', { name: 'Pause queue' }).click();
  await expect(page.locator('#queues-notice')).toContainText('The queue changed first — nothing was applied');
  expect((await queueInfo(request, name)).paused).toBe(false);
  // A pause made over REST shows without a reload.
  const res = await request.post(`${QUEUES_API}/${name}/pause`, { data: { mode: 'drain', reason: 'e2e: from curl' } });
  expect(res.status()).toBe(200);
  await expect(r.locator('[data-col="state"]')).toContainText('Paused (drain)', { timeout: 8_000 });
  await expect(r.locator('[data-col="state"]')).toContainText('e2e: from curl');
});

test('the Queues card fits a 360 px phone', async ({ page, request }) => {
  const name = await busyQueue(request);
  await page.setViewportSize({ width: 360, height: 800 });
  await openDashboard(page);
  await expect(row(page, name)).toBeVisible();
  await expectNoSideScroll(page);
  await row(page, name).getByRole('button', { name: `Pause ${name}` }).click();
  await expect(page.getByRole('dialog', { name: `Pause queue ${name}?` })).toBeVisible();
  await expectNoSideScroll(page);
  await expectAccessible(page, 'queue dialog at 360 px');
});
