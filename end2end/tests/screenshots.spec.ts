import {
  test,
  expect,
  reset,
  postPause,
  startJobs,
  completeJob,
  holdAtCheckpoint,
  openDashboard,
  banner,
  resumeButton,
  docScreenshot,
  quietFleet,
  registerWorker,
  workerHeartbeat,
  openWorkers,
  uniqueId,
  enqueueJob,
  claimJob,
  failJob,
} from './support';

// The screenshots in docs/img, from a short, realistic story: some history,
// a drain with jobs finishing one by one, the force-resume confirmation,
// quiesce, and the phone layout. Only when asked, so ordinary runs leave the
// docs alone:
//   LULL_E2E_SCREENSHOTS=1 npx playwright test screenshots.spec.ts

test.skip(process.env.LULL_E2E_SCREENSHOTS !== '1', 'set LULL_E2E_SCREENSHOTS=1 to refresh docs/img');

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.afterEach(async ({ request }) => {
  await reset(request);
});

test('docs screenshots of every main state', async ({ page, request }) => {
  test.setTimeout(120_000);
  await reset(request);
  await page.setViewportSize({ width: 1280, height: 900 });

  await postPause(request, { action: 'pause', mode: 'drain', reason: 'Nightly database vacuum' });
  await postPause(request, { action: 'resume', reason: 'Vacuum finished' });
  await openDashboard(page, 'Workers: Running');
  await docScreenshot(page, 'dashboard-running');

  // A drain: four jobs in flight, finishing one by one (the chart samples
  // every metrics tick, ~2 s).
  const jobs = await startJobs(request, 4, 'thumbnail.render');
  await pause(5_000);
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'Rolling API migration' });
  await pause(5_000);
  await completeJob(request, jobs[0]);
  await pause(5_000);
  await completeJob(request, jobs[1]);
  await pause(5_000);
  await expect(page.locator('[data-stat="running"]')).toHaveText('2');
  await expect(page.locator('.chart figcaption')).toContainText('2 now, peak 4');
  await docScreenshot(page, 'dashboard-drain', true);

  await page.locator('#resume-reason').fill('Hotfix cannot wait');
  await resumeButton(page).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await docScreenshot(page, 'dashboard-force-resume');
  await page.keyboard.press('Escape');

  await postPause(request, { action: 'pause', mode: 'quiesce', reason: 'Short infra tweak' });
  await holdAtCheckpoint(request, jobs[2]);
  await expect(page.locator('.job .badge', { hasText: 'at checkpoint' })).toBeVisible({ timeout: 12_000 });
  await docScreenshot(page, 'dashboard-quiesce');

  await page.setViewportSize({ width: 360, height: 780 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await docScreenshot(page, 'dashboard-phone', true);

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.locator('#resume-reason').fill('Hotfix cannot wait');
  await resumeButton(page).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Continue' }).click();
  await expect(banner(page)).toContainText('Resumed before full drain');
  await page.evaluate(() => window.scrollTo(0, 0));
  await docScreenshot(page, 'dashboard-forced-resume');
});

test('docs screenshots of the Workers tab', async ({ page, request }) => {
  test.setTimeout(60_000);
  await quietFleet(request);
  await page.setViewportSize({ width: 1280, height: 900 });
  const tag = uniqueId('s').slice(-4);
  const ids = ['web-1', 'web-2', 'batch-1', 'batch-2'].map((n) => `${n}-${tag}`);
  const boots: Record<string, string> = {};
  for (const id of ids) boots[id] = await registerWorker(request, id);
  await workerHeartbeat(request, ids[3], boots[ids[3]], 'paused');
  await openWorkers(page);
  for (const id of ids.slice(0, 2)) await page.getByRole('checkbox', { name: `Select ${id}` }).check();
  await page.getByLabel('Reason (required)').last().fill('Deploy worker 1.3.0');
  await page.getByRole('button', { name: 'Rolling restart' }).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await docScreenshot(page, 'dashboard-workers-confirm');
  await page.getByRole('dialog').getByRole('button', { name: 'Continue' }).click();
  await expect(page.locator('#rollout-status')).toHaveText('running');
  await expect
    .poll(async () => {
      for (const id of ids.slice(0, 3)) await workerHeartbeat(request, id, boots[id], 'running');
      return page.locator('.steps .state', { hasText: 'draining' }).count();
    }, { timeout: 10_000 })
    .toBeGreaterThan(0);
  await docScreenshot(page, 'dashboard-workers', true);
  await request.get('/api/workers/rolling-restarts').then(async (r) => {
    for (const rr of (await r.json()).filter((x: any) => x.status === 'running')) {
      await request.post(`/api/workers/rolling-restarts/${rr.id}/cancel`);
    }
  });
});

test('docs screenshots of the Jobs pages', async ({ page, request }) => {
  await reset(request);
  await page.setViewportSize({ width: 1280, height: 900 });
  const failed: string[] = [];
  for (const [type, error] of [
    ['invoice.render', 'template "q4" not found'],
    ['thumbnail.render', 'image decoder: truncated PNG'],
    ['email.send', 'SMTP 451: try again later'],
  ]) {
    const job = await enqueueJob(request, type, { customer: 4211, attempt: 'final' }, 1);
    await failJob(request, await claimJob(request, type, 'worker-7'), error);
    failed.push(job.id);
  }
  await enqueueJob(request, 'report.daily', { day: '2026-11-29' });
  await page.goto('/jobs?status=failed');
  await expect(page.locator('#jobs tbody tr[data-job-id]').first()).toBeVisible();
  await docScreenshot(page, 'dashboard-jobs');
  await page.goto(`/jobs/${failed[0]}`);
  await page.getByRole('button', { name: 'Retry job' }).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await docScreenshot(page, 'dashboard-job-retry');
  await page.keyboard.press('Escape');
});
