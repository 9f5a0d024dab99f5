import {
  test,
  expect,
  reset,
  pauseState,
  postPause,
  latestEvents,
  startJobs,
  openDashboard,
  banner,
  resumeButton,
} from './support';

// Resuming a fleet that has not drained: the confirmation dialog, its
// keyboard behaviour, Cancel and Continue, and the audit record.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  await reset(request);
});

test('the drain card lists the running jobs that block the drain', async ({ page, request }) => {
  const jobs = await startJobs(request, 2);
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: drain with work in flight' });
  await openDashboard(page, 'Workers: Paused (Drain)');

  await expect(page.locator('[data-stat="running"]')).toHaveText('2');
  await expect(page.locator('[data-stat="drained"]')).toHaveText('No');
  const list = page.getByRole('list', { name: 'Jobs blocking the drain' });
  for (const job of jobs) {
    const row = list.locator(`li[data-job-id="${job.id}"]`);
    await expect(row).toContainText('e2e.render');
    await expect(row).toContainText(job.workerId);
    await expect(row).toContainText('Lease until');
  }
  await expect(page.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '0');
  await expect(page.locator('#drain-progress-label')).toContainText('0 of 2 jobs finished since the pause');
});

test('resuming before drained asks first: Escape and Cancel keep the pause, Continue forces the resume', async ({
  page,
  request,
}) => {
  await startJobs(request, 2);
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: force resume' });
  await openDashboard(page, 'Workers: Paused (Drain)');
  await expect(page.locator('[data-stat="running"]')).toHaveText('2');

  const dialog = page.getByRole('dialog', { name: 'Resume before the fleet has drained?' });
  await page.locator('#resume-reason').fill('e2e: cannot wait any longer');

  // Opens with focus on the safe choice; Tab stays inside; Escape closes
  // and gives focus back to the Resume button.
  await resumeButton(page).click();
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAttribute('aria-modal', 'true');
  await expect(dialog).toContainText('2 jobs are still running');
  await expect(dialog).toContainText('e2e-worker-1');
  const cancel = dialog.getByRole('button', { name: 'Cancel' });
  const proceed = dialog.getByRole('button', { name: 'Continue' });
  await expect(cancel).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(proceed).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(cancel).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(proceed).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(resumeButton(page)).toBeFocused();
  expect((await pauseState(request)).workersPaused).toBe(true);

  // Cancel keeps the fleet paused.
  await resumeButton(page).click();
  await expect(dialog).toBeVisible();
  await cancel.click();
  await expect(dialog).toHaveCount(0);
  await expect(resumeButton(page)).toBeFocused();
  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  expect((await pauseState(request)).workersPaused).toBe(true);

  // Continue resumes with forceResume: true.
  const sent = page.waitForRequest((r) => r.url().endsWith('/sfn/change_pause'));
  await resumeButton(page).click();
  await proceed.click();
  expect(decodeURIComponent((await sent).postData() ?? '')).toMatch(/forceResume\]?=true/);
  await expect(banner(page)).toContainText('Workers: Running');
  await expect(banner(page)).toContainText('Resumed before full drain');
  await expect(banner(page)).toContainText('2 jobs were still running');
  await expect(page.locator('#controls-notice')).toContainText('Resumed before the fleet drained');

  const state = await pauseState(request);
  expect(state.workersPaused).toBe(false);
  const [latest] = await latestEvents(request, 1);
  expect(latest).toMatchObject({
    action: 'resume',
    reason: 'e2e: cannot wait any longer',
    forceResume: true,
    version: state.version,
  });
  expect(latest.metrics.running).toBe(2);
});
