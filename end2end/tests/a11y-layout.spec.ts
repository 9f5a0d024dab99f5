import type { Page } from '@playwright/test';
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
  linkIndicator,
  pauseButton,
  resumeButton,
  expectAccessible,
  expectNoSideScroll,
  STREAM_API,
} from './support';

// axe-core over every main state (0 violations) and the phone layout.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  await reset(request);
});

test('every main state passes axe-core with no violations', async ({ page, request, consoleErrors }) => {
  test.setTimeout(90_000);
  // The blank reason below is refused with the REST status (422).
  consoleErrors.allow(/ERR_FAILED|ERR_INTERNET_DISCONNECTED|Failed to fetch|status of 422/);
  await page.setViewportSize({ width: 1280, height: 900 });

  // Running, with some history.
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'Nightly database vacuum' });
  await postPause(request, { action: 'resume', reason: 'Vacuum finished' });
  await openDashboard(page, 'Workers: Running');
  await expect(page.locator('.events > li').first()).toContainText('Vacuum finished');
  await expectAccessible(page, 'running');

  // Paused (drain) with jobs blocking the drain, one already finished.
  const jobs = await startJobs(request, 3);
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'Rolling API migration' });
  await completeJob(request, jobs[0]);
  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  await expect(page.locator('[data-stat="running"]')).toHaveText('2', { timeout: 6_000 });
  await expect(page.getByRole('list', { name: 'Jobs blocking the drain' }).locator('li')).toHaveCount(2);
  await expect(page.locator('#drain-progress-label')).toContainText('1 of 3 jobs finished');
  await expect(page.locator('.chart svg')).toBeVisible({ timeout: 12_000 });
  await expectAccessible(page, 'paused (drain) with blocking jobs');

  // The force-resume confirmation.
  await page.locator('#resume-reason').fill('Hotfix cannot wait');
  await resumeButton(page).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await expectAccessible(page, 'force-resume dialog');
  await page.keyboard.press('Escape');

  // Paused (quiesce), a job holding at a checkpoint.
  await postPause(request, { action: 'pause', mode: 'quiesce', reason: 'Short infra tweak' });
  await holdAtCheckpoint(request, jobs[1]);
  await expect(banner(page)).toContainText('Workers: Paused (Quiesce)');
  await expect(page.locator('.job .badge', { hasText: 'at checkpoint' })).toBeVisible({ timeout: 12_000 });
  await expectAccessible(page, 'paused (quiesce)');

  // A field error under the reason.
  await page.locator('#resume-reason').fill('  ');
  await resumeButton(page).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Continue' }).click();
  await expect(page.locator('#resume-reason-error')).toHaveText('reason must not be empty');
  await expectAccessible(page, 'validation error');

  // Forced resume highlighted in the banner.
  await page.locator('#resume-reason').fill('Hotfix cannot wait');
  await resumeButton(page).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Continue' }).click();
  await expect(banner(page)).toContainText('Resumed before full drain');
  await expectAccessible(page, 'resumed before full drain');

  // Live updates disconnected (the page reloaded while cut off).
  await page.route(`**${STREAM_API}`, (route) => route.abort());
  await page.route('**/sfn/**', (route) => route.abort());
  await page.reload();
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'disconnected');
  await expect(banner(page)).toContainText('The server cannot be reached.');
  await expectAccessible(page, 'live updates disconnected');
  await page.unrouteAll();
  await expect(linkIndicator(page)).not.toHaveAttribute('data-link', 'disconnected', { timeout: 10_000 });
});

/** Fails when the page scrolls sideways or a control sticks out of the viewport. */
async function expectFitsWidth(page: Page, width: number) {
  await expectNoSideScroll(page);
  for (const control of [
    pauseButton(page),
    resumeButton(page),
    page.locator('#pause-reason'),
    page.locator('#resume-reason'),
    page.getByRole('radio', { name: 'Drain' }),
    page.getByRole('radio', { name: 'Quiesce' }),
  ]) {
    await control.scrollIntoViewIfNeeded();
    await expect(control).toBeInViewport();
    const box = await control.boundingBox();
    expect(box, 'control has a box').not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(width);
  }
}

test('the 360 px phone layout has no horizontal scroll and every control in view', async ({ page, request }) => {
  await page.setViewportSize({ width: 360, height: 780 });
  await openDashboard(page, 'Workers: Running');
  await expectFitsWidth(page, 360);
  await expectAccessible(page, 'phone, running');

  await startJobs(request, 2);
  await postPause(request, {
    action: 'pause',
    mode: 'drain',
    reason: 'Upgrading the image-resizer workers to v2.14 across all regions',
  });
  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  await expect(page.getByRole('list', { name: 'Jobs blocking the drain' }).locator('li')).toHaveCount(2, {
    timeout: 6_000,
  });
  await expectFitsWidth(page, 360);
  await expectAccessible(page, 'phone, paused with blocking jobs');
  await page.evaluate(() => window.scrollTo(0, 0));

  // The dialog fits too, buttons reachable.
  await page.locator('#resume-reason').fill('Hotfix cannot wait');
  await resumeButton(page).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  for (const name of ['Cancel', 'Continue']) {
    const button = dialog.getByRole('button', { name });
    await expect(button).toBeInViewport();
    const box = await button.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(360);
  }
  await expectAccessible(page, 'phone, dialog');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
});
