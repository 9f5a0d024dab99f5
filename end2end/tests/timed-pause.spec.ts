import { test, expect, reset, pauseState, latestEvents, openDashboard, banner, pauseButton, notice } from './support';

// The timed pause set from the form: "resume automatically after N minutes"
// or at an end time (UTC), sent as `until`; the fleet resumes by itself.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  await reset(request);
});

/** `2026-11-30T01:02:03` (a datetime-local value, read as UTC) and its RFC 3339 form. */
function utcInSeconds(s: number) {
  const at = new Date(Date.now() + s * 1000);
  at.setMilliseconds(0);
  const iso = at.toISOString().replace('.000Z', 'Z');
  return { field: iso.slice(0, 19), iso };
}

test('a pause with an end time ends by itself and the banner returns to Running', async ({ page, request }) => {
  await openDashboard(page, 'Workers: Running');
  const end = utcInSeconds(5);
  await page.locator('#pause-reason').fill('e2e: a short window');
  await page.getByLabel('Or at (UTC)').fill(end.field);
  await pauseButton(page).click();

  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  await expect(banner(page).locator('.banner-until time')).toHaveAttribute('datetime', end.iso);
  const state = await pauseState(request);
  expect(state).toMatchObject({ workersPaused: true, reason: 'e2e: a short window' });
  expect(new Date(state.until).toISOString()).toBe(new Date(end.iso).toISOString());
  // The form is done with what was typed.
  await expect(page.getByLabel('Or at (UTC)')).toHaveValue('');

  // Nobody resumes it: the server does, on time, and the page follows.
  await expect(banner(page)).toContainText('Workers: Running', { timeout: 15_000 });
  await expect(banner(page)).toContainText('by system');
  const [latest] = await latestEvents(request, 1);
  expect(latest).toMatchObject({ action: 'resume', actor: 'system' });
});

test('"after N minutes" sends until = now + N minutes', async ({ page, request }) => {
  await openDashboard(page, 'Workers: Running');
  await page.locator('#pause-reason').fill('e2e: half an hour');
  await page.getByLabel('After (minutes)').fill('30');
  const before = Date.now();
  await pauseButton(page).click();
  await expect(banner(page)).toContainText('resumes by itself at');
  const until = new Date((await pauseState(request)).until).getTime();
  expect(until).toBeGreaterThanOrEqual(before + 30 * 60_000 - 2_000);
  expect(until).toBeLessThanOrEqual(Date.now() + 30 * 60_000 + 2_000);
});

test('both at once, or an end time in the past, is refused under the fields', async ({ page, request, consoleErrors }) => {
  // The server's refusal of a past end comes with its REST status (422).
  consoleErrors.allow(/status of 422/);
  await openDashboard(page, 'Workers: Running');
  await page.locator('#pause-reason').fill('e2e: confused window');
  await page.getByLabel('After (minutes)').fill('5');
  await page.getByLabel('Or at (UTC)').fill(utcInSeconds(600).field);
  await pauseButton(page).click();
  const error = page.locator('#pause-until-error');
  await expect(error).toHaveText('Give either minutes or an end time, not both.');
  await expect(page.getByLabel('After (minutes)')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('After (minutes)')).toBeFocused();
  expect((await pauseState(request)).workersPaused).toBe(false);

  await page.getByLabel('After (minutes)').fill('');
  await expect(error).toBeEmpty();
  await page.getByLabel('Or at (UTC)').fill(utcInSeconds(-3600).field);
  await pauseButton(page).click();
  await expect(error).toContainText('until must be in the future');
  await expect(notice(page)).toBeEmpty();
  expect((await pauseState(request)).workersPaused).toBe(false);
});
