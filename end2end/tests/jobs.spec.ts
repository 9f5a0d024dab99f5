import {
  test,
  expect,
  reset,
  uniqueId,
  enqueueJob,
  claimJob,
  failJob,
  getJob,
  expectRoute,
  expectAccessible,
  JOBS_API,
} from './support';
import type { APIRequestContext } from '@playwright/test';

// The Jobs page (issue 12): the list filtered by status, a job's own page,
// and Cancel / Retry with their confirmations, checked over the REST API.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  await reset(request);
});

/** One job in each of four states, of a type of their own. */
async function jobsInEveryState(request: APIRequestContext) {
  const type = uniqueId('e2e.jobs');
  const failed = await enqueueJob(request, type, { step: 'fails' }, 1);
  await failJob(request, await claimJob(request, type, 'e2e-jobs-worker'), 'disk full');
  const running = await enqueueJob(request, type, { step: 'runs' });
  const claimed = await claimJob(request, type, 'e2e-jobs-worker');
  expect(claimed.id).toBe(running.id);
  const cancelled = await enqueueJob(request, type, { step: 'cancelled' });
  expect((await request.post(`${JOBS_API}/${cancelled.id}/cancel`)).status()).toBe(200);
  const queued = await enqueueJob(request, type, { step: 'waits' });
  return { type, failed, running, cancelled, queued };
}

const row = (page: import('@playwright/test').Page, id: string) => page.locator(`#jobs tr[data-job-id="${id}"]`);

test('the list is newest first and filtered by status, in the address', async ({ page, request }) => {
  const jobs = await jobsInEveryState(request);
  await page.goto('/jobs');
  await expectRoute(page, 'Jobs', 'Jobs');
  for (const [job, status] of [
    [jobs.failed, 'failed'],
    [jobs.running, 'running'],
    [jobs.cancelled, 'cancelled'],
    [jobs.queued, 'queued'],
  ] as const) {
    await expect(row(page, job.id).locator('[data-col="status"]')).toHaveText(status);
  }
  const order = await page.locator('#jobs tbody tr[data-job-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-job-id')));
  expect(order.indexOf(jobs.queued.id)).toBeLessThan(order.indexOf(jobs.failed.id));
  await expect(row(page, jobs.running.id)).toContainText('e2e-jobs-worker');
  await expect(row(page, jobs.failed.id)).toContainText('1 of 1');

  await page.getByLabel('Status').selectOption('failed');
  await expect(page).toHaveURL('/jobs?status=failed');
  await expect(row(page, jobs.failed.id)).toBeVisible();
  await expect(row(page, jobs.queued.id)).toHaveCount(0);
  await expect(row(page, jobs.running.id)).toHaveCount(0);
  const statuses = await page.locator('#jobs [data-col="status"]').allTextContents();
  expect(statuses.length).toBeGreaterThan(0);
  expect(new Set(statuses)).toEqual(new Set(['failed']));
  await expectAccessible(page, 'jobs: failed');

  // The filter survives a reload, and Back returns to the whole list.
  await page.reload();
  await expect(page.getByLabel('Status')).toHaveValue('failed');
  await expect(row(page, jobs.queued.id)).toHaveCount(0);
  await page.goBack();
  await expect(page).toHaveURL('/jobs');
  await expect(row(page, jobs.queued.id)).toBeVisible();

  // A row leads to the job's page.
  await row(page, jobs.failed.id).getByRole('link').click();
  await expect(page).toHaveURL(`/jobs/${jobs.failed.id}`);
});

test("a job's page shows what it holds", async ({ page, request, consoleErrors }) => {
  // The unknown job below is answered 404, which Chromium logs.
  consoleErrors.allow(/status of 404/);
  const jobs = await jobsInEveryState(request);
  await page.goto(`/jobs/${jobs.failed.id}`);
  await expectRoute(page, `Job ${jobs.failed.id}`, 'Jobs');
  const facts = page.locator('.detail-facts');
  await expect(facts).toContainText('Statusfailed');
  await expect(facts).toContainText(`Type${jobs.type}`);
  await expect(facts).toContainText('Attempts1 of 1');
  await expect(facts).toContainText('Workere2e-jobs-worker');
  await expect(facts).toContainText('Finished');
  await expect(page.getByRole('region', { name: 'Payload' })).toContainText('"step": "fails"');
  await expect(page.getByRole('region', { name: 'Error' })).toHaveText('disk full');

  await page.goto(`/jobs/${jobs.running.id}`);
  await expect(facts).toContainText('Statusrunning');
  await expect(facts).toContainText('Lease expires');
  await expectAccessible(page, 'job page: running');

  await page.goto('/jobs/67e55044-10b1-426f-9247-bb680e5fe0c8');
  await expect(page.getByText('No job with this id.')).toBeVisible();
  await page.goto('/jobs/not-a-uuid');
  await expect(page.getByText('This address does not name a job')).toBeVisible();
});

test('cancel asks first: Escape and "Keep it" change nothing, "Cancel job" cancels', async ({ page, request }) => {
  const jobs = await jobsInEveryState(request);
  await page.goto(`/jobs/${jobs.running.id}`);
  const open = page.getByRole('button', { name: 'Cancel job' });
  const dialog = page.getByRole('dialog', { name: /^Cancel job / });

  await open.click();
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('It is running on e2e-jobs-worker');
  await expect(dialog.getByRole('button', { name: 'Keep it' })).toBeFocused();
  await expectAccessible(page, 'job page: cancel dialog');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(open).toBeFocused();
  await open.click();
  await dialog.getByRole('button', { name: 'Keep it' }).click();
  await expect(dialog).toHaveCount(0);
  expect((await getJob(request, jobs.running.id)).status).toBe('running');

  await open.click();
  await dialog.getByRole('button', { name: 'Cancel job' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.locator('#job-notice')).toHaveText('Job cancelled.');
  await expect(page.locator('#job-notice')).toBeFocused();
  await expect(page.locator('.detail-facts')).toContainText('Statuscancelled');
  expect((await getJob(request, jobs.running.id)).status).toBe('cancelled');
  // A cancelled job offers Retry instead.
  await expect(page.getByRole('button', { name: 'Retry job' })).toBeVisible();
});

test('retry asks first, then queues the failed job again with its attempts reset', async ({ page, request }) => {
  const jobs = await jobsInEveryState(request);
  await page.goto(`/jobs/${jobs.failed.id}`);
  await page.getByRole('button', { name: 'Retry job' }).click();
  const dialog = page.getByRole('dialog', { name: /^Retry job / });
  await expect(dialog).toContainText('it had 1 of 1');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  expect((await getJob(request, jobs.failed.id)).status).toBe('failed');

  await page.getByRole('button', { name: 'Retry job' }).click();
  await dialog.getByRole('button', { name: 'Retry job' }).click();
  await expect(page.locator('#job-notice')).toHaveText('Job queued again.');
  const job = await getJob(request, jobs.failed.id);
  expect(job).toMatchObject({ status: 'queued', attempts: 0 });
  await expect(page.locator('.detail-facts')).toContainText('Statusqueued');
  // Queued: it can be cancelled, not retried.
  await expect(page.getByRole('button', { name: 'Cancel job' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Retry job' })).toHaveCount(0);
});
