import {
  test,
  expect,
  reset,
  pauseState,
  postPause,
  latestEvents,
  openDashboard,
  banner,
  pauseButton,
  resumeButton,
  notice,
} from './support';

// The banner and the pause/resume forms, driven through the page and
// checked against the REST API.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test('banner says the workers are running, with no jobs at all', async ({ page, request }) => {
  const state = await pauseState(request);
  await openDashboard(page, 'Workers: Running');
  await expect(banner(page)).toContainText(`version ${state.version}`);
  await expect(page.locator('[data-stat="running"]')).toHaveText('0');
  await expect(page.locator('[data-stat="drained"]')).toHaveText('Yes');
  await expect(pauseButton(page)).toBeEnabled();
  await expect(resumeButton(page)).toBeDisabled();
  await expect(page.getByText('No running or stale jobs.')).toBeVisible();
});

test('pause in drain mode from the page', async ({ page, request }) => {
  await openDashboard(page, 'Workers: Running');
  await page.getByRole('radio', { name: 'Drain' }).check();
  await page.locator('#pause-reason').fill('e2e: rolling API migration');
  await pauseButton(page).click();

  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  await expect(banner(page)).toContainText('e2e: rolling API migration');
  await expect(banner(page)).toContainText('by local');
  await expect(banner(page).locator('time')).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT/);
  await expect(notice(page)).toContainText('Done — Workers: Paused (Drain).');

  const state = await pauseState(request);
  expect(state).toMatchObject({ workersPaused: true, mode: 'drain', reason: 'e2e: rolling API migration' });
  await expect(banner(page)).toContainText(`version ${state.version}`);
  // The audit history shows it on top.
  const top = page.locator('.events > li').first();
  await expect(top).toContainText('pause');
  await expect(top).toContainText('e2e: rolling API migration');
  await expect(top).toHaveAttribute('data-version', String(state.version));
});

test('pause in quiesce mode, then switch to drain with an explicit control', async ({ page, request }) => {
  await openDashboard(page, 'Workers: Running');
  await page.getByRole('radio', { name: 'Quiesce' }).check();
  await page.locator('#pause-reason').fill('e2e: short infra tweak');
  await pauseButton(page).click();
  await expect(banner(page)).toContainText('Workers: Paused (Quiesce)');
  expect(await pauseState(request)).toMatchObject({ workersPaused: true, mode: 'quiesce' });

  // The mode radios show the current mode and are locked; switching is its own button.
  await expect(page.getByRole('radio', { name: 'Quiesce' })).toBeChecked();
  await expect(page.getByRole('radio', { name: 'Drain' })).toBeDisabled();
  const switchButton = page.getByRole('button', { name: 'Switch to drain' });
  await page.locator('#pause-reason').fill('e2e: let the jobs finish instead');
  await switchButton.click();
  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  expect(await pauseState(request)).toMatchObject({
    workersPaused: true,
    mode: 'drain',
    reason: 'e2e: let the jobs finish instead',
  });
  await expect(page.getByRole('button', { name: 'Switch to quiesce' })).toBeVisible();
});

test('Pause is disabled while paused and explains why', async ({ page, request }) => {
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: paused elsewhere' });
  await openDashboard(page, 'Workers: Paused (Drain)');
  await expect(pauseButton(page)).toBeDisabled();
  await expect(pauseButton(page)).toHaveAccessibleDescription(/already paused \(drain\)/);
  await expect(resumeButton(page)).toBeEnabled();
  // Enter in the reason field does not pause again either.
  await page.locator('#pause-reason').fill('again');
  await page.locator('#pause-reason').press('Enter');
  await expect(notice(page)).toBeEmpty();
});

test('resume when drained needs no confirmation', async ({ page, request }) => {
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: drained pause' });
  await openDashboard(page, 'Workers: Paused (Drain)');
  await expect(page.locator('[data-stat="drained"]')).toHaveText('Yes');
  await expect(page.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');

  await page.locator('#resume-reason').fill('e2e: maintenance complete');
  await resumeButton(page).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(banner(page)).toContainText('Workers: Running');
  await expect(banner(page)).not.toContainText('Resumed before full drain');

  const [latest] = await latestEvents(request, 1);
  expect(latest).toMatchObject({ action: 'resume', reason: 'e2e: maintenance complete', forceResume: false });
});

test('audit history is newest first and pages to older events', async ({ page, request }) => {
  // Twelve more events than a fresh page can hold.
  for (let i = 1; i <= 6; i++) {
    await postPause(request, { action: 'pause', mode: 'drain', reason: `e2e: history ${i}` });
    await postPause(request, { action: 'resume', reason: `e2e: history ${i} done`, forceResume: true });
  }
  await openDashboard(page, 'Workers: Running');
  const rows = page.locator('.events > li');
  await expect(rows).toHaveCount(10);
  await expect(rows.first()).toContainText('e2e: history 6 done');
  await expect(rows.first()).toContainText('forceResume');
  await expect(rows.first()).toContainText('by local');

  const versions = async () =>
    (await rows.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-version')))));
  const first = await versions();
  expect(first).toEqual([...first].sort((a, b) => b - a));

  await page.getByRole('button', { name: 'Show older events' }).click();
  await expect.poll(async () => (await versions()).length).toBeGreaterThan(10);
  const all = await versions();
  expect(all).toEqual([...all].sort((a, b) => b - a));
  expect(new Set(all).size).toBe(all.length);
});
