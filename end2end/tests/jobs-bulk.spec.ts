import type { APIRequestContext, Page } from '@playwright/test';
import {
  test,
  expect,
  reset,
  uniqueId,
  postPause,
  expectRoute,
  expectAccessible,
  expectNoSideScroll,
  getJob,
  JOBS_API,
  EVENTS_API,
} from './support';

// The Jobs page's type and queue filters and the bulk retry of the failed
// jobs they match (issues 12 and 13), and the audit log filtered by the
// server — each checked over the REST API.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  await reset(request);
});

async function enqueue(request: APIRequestContext, type: string, queue: string, maxAttempts = 3) {
  const res = await request.post(JOBS_API, { data: { type, queue, maxAttempts, payload: {} } });
  expect(res.status(), `enqueue: ${await res.text()}`).toBe(201);
  return (await res.json()) as Record<string, any>;
}

/** The oldest queued job of `type` in `queue`, claimed and failed for good; its id. */
async function failOne(request: APIRequestContext, type: string, queue: string) {
  const res = await request.post(`${JOBS_API}/claim`, {
    data: { workerId: 'e2e-bulk-worker', types: [type], queues: [queue], leaseSeconds: 600 },
  });
  const job = (await res.json()).job;
  expect(job, `a ${type} job of ${queue}`).not.toBeNull();
  const fail = await request.post(`${JOBS_API}/${job.id}/fail`, {
    data: { workerId: 'e2e-bulk-worker', leaseToken: job.leaseToken, error: 'e2e: boom', retryable: false },
  });
  expect(fail.status(), await fail.text()).toBe(200);
  return job.id as string;
}

async function failed(request: APIRequestContext, type: string, queue: string) {
  await enqueue(request, type, queue, 1);
  return failOne(request, type, queue);
}

async function failedCount(request: APIRequestContext, type: string, queue: string) {
  const res = await request.get(`${JOBS_API}/count?status=failed&type=${type}&queue=${queue}`);
  expect(res.status()).toBe(200);
  return (await res.json()).count as number;
}

const row = (page: Page, id: string) => page.locator(`#jobs tr[data-job-id="${id}"]`);

test('the list filters by type and by queue, in the address', async ({ page, request }) => {
  const [typeA, typeB] = [uniqueId('e2e.ta'), uniqueId('e2e.tb')];
  const [q1, q2] = [uniqueId('e2e-q1'), uniqueId('e2e-q2')];
  const a1 = await enqueue(request, typeA, q1);
  const a2 = await enqueue(request, typeA, q2);
  const b1 = await enqueue(request, typeB, q1);

  await page.goto('/jobs');
  await expectRoute(page, 'Jobs', 'Jobs');
  await expect(row(page, a1.id).locator('[data-col="queue"]')).toHaveText(q1);
  await page.getByLabel('Type').fill(typeA);
  await page.getByLabel('Type').press('Enter');
  await expect(page).toHaveURL(`/jobs?type=${typeA}`);
  await expect(row(page, a1.id)).toBeVisible();
  await expect(row(page, a2.id)).toBeVisible();
  await expect(row(page, b1.id)).toHaveCount(0);
  expect(new Set(await page.locator('#jobs [data-col="type"]').allTextContents())).toEqual(new Set([typeA]));

  await page.getByLabel('Queue').selectOption(q1);
  await expect(page).toHaveURL(`/jobs?type=${typeA}&queue=${q1}`);
  await expect(row(page, a1.id)).toBeVisible();
  await expect(row(page, a2.id)).toHaveCount(0);
  await expect(page.locator('#jobs tbody tr[data-job-id]')).toHaveCount(1);
  await expectAccessible(page, 'jobs filtered by type and queue');

  // A reload keeps both; Back undoes the queue, then the type.
  await page.reload();
  await expect(page.getByLabel('Type')).toHaveValue(typeA);
  await expect(page.getByLabel('Queue')).toHaveValue(q1);
  await expect(row(page, a2.id)).toHaveCount(0);
  await page.goBack();
  await expect(page).toHaveURL(`/jobs?type=${typeA}`);
  await expect(row(page, a2.id)).toBeVisible();
  // The queue alone, from its address.
  await page.goto(`/jobs?queue=${q1}`);
  await expect(row(page, a1.id)).toBeVisible();
  await expect(row(page, b1.id)).toBeVisible();
  await expect(row(page, a2.id)).toHaveCount(0);
});

test('bulk retry states its count and retries exactly the failed jobs that match', async ({ page, request, consoleErrors }) => {
  // The stale confirmation below is answered 409, which Chromium logs.
  consoleErrors.allow(/status of 409/);
  const [type, other] = [uniqueId('e2e.bulk'), uniqueId('e2e.bulk-other')];
  const [q, elsewhere] = [uniqueId('e2e-bq'), uniqueId('e2e-bq-else')];
  const matching = [await failed(request, type, q), await failed(request, type, q), await failed(request, type, q)];
  const otherQueue = await failed(request, type, elsewhere);
  const otherType = await failed(request, other, q);
  const queued = await enqueue(request, type, q);

  await page.goto(`/jobs?type=${type}&queue=${q}`);
  await expectRoute(page, 'Jobs', 'Jobs');
  const button = page.getByRole('button', { name: 'Retry 3 failed jobs' });
  await button.click();
  let dialog = page.getByRole('dialog', { name: 'Retry 3 failed jobs?' });
  await expect(dialog).toContainText(`3 failed jobs of type ${type} in queue ${q} go back to the queue`);
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await expect(dialog.getByRole('button', { name: 'Retry 3 jobs' })).toBeDisabled();
  await expectAccessible(page, 'bulk retry dialog');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  expect(await failedCount(request, type, q)).toBe(3);

  // The set changes while the dialog is open: nothing is retried, and the page says so.
  await button.click();
  await dialog.getByLabel('Reason (required)').fill('e2e: provider back');
  await enqueue(request, type, q, 1);
  const fourth = await failOne(request, type, q);
  await dialog.getByRole('button', { name: 'Retry 3 jobs' }).click();
  await expect(page.locator('#bulk-notice')).toContainText('changed since the confirmation');
  await expect(page.locator('#bulk-notice')).toContainText('4 match now, not 3');
  await expect(page.locator('#bulk-notice')).toBeFocused();
  expect(await failedCount(request, type, q)).toBe(4);

  // Confirmed with the new count: exactly those four go back to the queue.
  await page.getByRole('button', { name: 'Retry 4 failed jobs' }).click();
  dialog = page.getByRole('dialog', { name: 'Retry 4 failed jobs?' });
  await dialog.getByLabel('Reason (required)').fill('e2e: provider back');
  await dialog.getByRole('button', { name: 'Retry 4 jobs' }).click();
  await expect(page.locator('#bulk-notice')).toHaveText('4 failed jobs queued again.');
  for (const id of [...matching, fourth]) {
    const job = await getJob(request, id);
    expect(job.status, id).toBe('queued');
    expect(job.attempts).toBe(0);
  }
  expect((await getJob(request, otherQueue)).status).toBe('failed');
  expect((await getJob(request, otherType)).status).toBe('failed');
  expect((await getJob(request, queued.id)).status).toBe('queued');
  const events = (await (await request.get(`${EVENTS_API}?action=jobs.retry&limit=1`)).json()).events;
  expect(events[0]).toMatchObject({ action: 'jobs.retry', actor: 'local', reason: 'e2e: provider back' });
  expect(events[0].details).toMatchObject({ retried: 4, type, queue: q });
  // Nothing failed matches any more: no bulk action.
  await expect(page.getByRole('button', { name: /^Retry \d+ failed job/ })).toHaveCount(0);
  // A filter that shows no failed jobs offers none either.
  await failed(request, type, q);
  await page.goto(`/jobs?status=queued&type=${type}&queue=${q}`);
  await expect(row(page, queued.id)).toBeVisible();
  await expect(page.getByRole('button', { name: /^Retry \d+ failed job/ })).toHaveCount(0);
});

test('the new Jobs states fit a 360 px phone', async ({ page, request }) => {
  const [type, q] = [uniqueId('e2e.narrow'), uniqueId('e2e-narrow-q')];
  await failed(request, type, q);
  await page.setViewportSize({ width: 360, height: 800 });
  await page.goto(`/jobs?type=${type}&queue=${q}`);
  await page.getByRole('button', { name: 'Retry 1 failed job' }).click();
  await expect(page.getByRole('dialog', { name: 'Retry 1 failed job?' })).toBeVisible();
  await expectNoSideScroll(page);
  await expectAccessible(page, 'bulk retry dialog at 360 px');
  await page.keyboard.press('Escape');
  await expectNoSideScroll(page);
});

test('the audit log is filtered by the server, not in the page', async ({ page, request }) => {
  // One queue pause, then more than a page (50) of other events above it.
  const q = uniqueId('e2e-audit-q');
  const res = await request.post(`/api/queues/${q}/pause`, { data: { mode: 'drain', reason: 'e2e: deep in the log' } });
  expect(res.status()).toBe(200);
  expect((await request.post(`/api/queues/${q}/resume`, { data: { reason: 'e2e: done' } })).status()).toBe(200);
  for (let i = 1; i <= 26; i++) {
    await postPause(request, { action: 'pause', mode: 'drain', reason: `e2e: filler ${i}` });
    await postPause(request, { action: 'resume', reason: `e2e: filler ${i} done`, forceResume: true });
  }
  await page.goto('/audit?action=queue.pause');
  await expectRoute(page, 'Audit log', 'Audit log');
  const rows = page.locator('#audit-list > li');
  // Found on the first page, without paging back through the fillers.
  await expect(rows.first()).toContainText('e2e: deep in the log');
  for (const action of await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))) {
    expect(action).toBe('queue.pause');
  }
  await expect(page.getByText(/matching events loaded/)).toBeVisible();
  await page.getByLabel('Action').selectOption('resume');
  await expect(page).toHaveURL('/audit?action=resume');
  await expect.poll(async () => rows.count()).toBeGreaterThanOrEqual(26);
  await expect(rows.first()).toContainText('e2e: filler 26 done');
  for (const action of await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))) {
    expect(action).toBe('resume');
  }
  await page.getByLabel('Actor').fill('nobody-by-this-name');
  await expect(page.getByText('No loaded event matches the filter.')).toBeVisible();
  await expectAccessible(page, 'audit filtered by the server');
});
