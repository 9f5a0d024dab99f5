import {
  test,
  expect,
  reset,
  postPause,
  startJobs,
  openDashboard,
  banner,
  linkIndicator,
  STREAM_API,
} from './support';

// Live updates: pushed over server-sent events, polled when the stream is
// down, and a visible warning when the page cannot reach the server.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  await reset(request);
});

test('a pause made over REST shows in the open page within one second, without reload', async ({
  page,
  request,
}) => {
  await openDashboard(page, 'Workers: Running');
  let navigations = 0;
  page.on('framenavigated', () => navigations++);

  const paused = await postPause(request, { action: 'pause', mode: 'quiesce', reason: 'e2e: someone else' });
  await expect(banner(page)).toContainText('Workers: Paused (Quiesce)', { timeout: 1_000 });
  await expect(banner(page)).toContainText(`version ${paused.version}`, { timeout: 1_000 });
  await expect(banner(page)).toContainText('e2e: someone else');

  const resumed = await postPause(request, { action: 'resume', reason: 'e2e: someone else, done' });
  await expect(banner(page)).toContainText('Workers: Running', { timeout: 1_000 });
  await expect(banner(page)).toContainText(`version ${resumed.version}`, { timeout: 1_000 });
  expect(navigations).toBe(0);
});

test('a timed pause says when it ends, then the page shows the fleet resumed by itself', async ({
  page,
  request,
}) => {
  await openDashboard(page, 'Workers: Running');
  const until = new Date(Date.now() + 2_500);
  until.setMilliseconds(0);
  const iso = until.toISOString().replace('.000Z', 'Z');
  const paused = await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: timed window', until: iso });
  expect(paused.until).toBeTruthy();
  await expect(banner(page)).toContainText('Workers: Paused (Drain)', { timeout: 1_000 });
  const when = banner(page).locator('.banner-until time');
  await expect(when).toHaveAttribute('datetime', iso);
  await expect(banner(page)).toContainText('resumes by itself at');
  // Nobody resumes it: the server does, on time, as `system`.
  await expect(banner(page)).toContainText('Workers: Running', { timeout: 6_000 });
  await expect(banner(page)).toContainText('by system');
  await expect(banner(page).locator('.banner-until')).toHaveCount(0);
  await expect(page.locator('#audit-list li').first()).toContainText('timed pause ended');
});

test('metrics follow the queue live', async ({ page, request }) => {
  await openDashboard(page, 'Workers: Running');
  await expect(page.locator('[data-stat="running"]')).toHaveText('0');
  await startJobs(request, 1);
  // Metrics are sampled every metricsTickMs (2 s by default).
  await expect(page.locator('[data-stat="running"]')).toHaveText('1', { timeout: 6_000 });
  await expect(page.getByRole('list', { name: 'Jobs blocking the drain' }).locator('li')).toHaveCount(1, {
    timeout: 6_000,
  });
});

test('the page says when live updates are disconnected, and clears it when they return', async ({
  page,
  request,
  consoleErrors,
}) => {
  consoleErrors.allow(/ERR_FAILED|Failed to fetch/);
  // Cut off from the start: the stream and every server function fail.
  // (A stream that breaks while open is in server-restart.spec.ts.)
  await page.route(`**${STREAM_API}`, (route) => route.abort());
  await page.route('**/sfn/**', (route) => route.abort());
  await page.goto('/');
  await expect(linkIndicator(page)).toHaveText('Live updates disconnected — data may be stale');
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'disconnected');
  await expect(banner(page)).toContainText('The server cannot be reached.');

  // Meanwhile the state changes.
  const paused = await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: changed while cut off' });

  // Back: the stream reconnects (or polling catches up) and the page is current.
  await page.unroute(`**${STREAM_API}`);
  await page.unroute('**/sfn/**');
  await expect(linkIndicator(page)).not.toHaveAttribute('data-link', 'disconnected', { timeout: 10_000 });
  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  await expect(banner(page)).toContainText(`version ${paused.version}`);
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'live', { timeout: 10_000 });
});

test('a silent stream is checked: when the server cannot be reached the page says so', async ({
  page,
  context,
  consoleErrors,
}) => {
  consoleErrors.allow(/ERR_FAILED|ERR_INTERNET_DISCONNECTED|Failed to fetch/);
  await openDashboard(page, 'Workers: Running');
  // Offline, the open stream may stay half-open with no error event; silence
  // alone is normal (metrics are sent only when they change), so after
  // staleAfterMs of it the page polls once, and that poll fails.
  await page.route('**/sfn/**', (route) => route.abort());
  await context.setOffline(true);
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'disconnected', { timeout: 12_000 });
  await context.setOffline(false);
  await page.unroute('**/sfn/**');
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'live', { timeout: 10_000 });
});

test('with only the stream down the page polls and says so, without claiming staleness', async ({
  page,
  request,
  consoleErrors,
}) => {
  consoleErrors.allow(/ERR_FAILED/);
  await page.route(`**${STREAM_API}`, (route) => route.abort());
  await page.goto('/');
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'polling');
  await expect(linkIndicator(page)).toContainText('refreshing every');
  await expect(banner(page)).toContainText('Workers: Running');

  // Polling (every pollIntervalMs) still brings changes.
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: seen by polling' });
  await expect(banner(page)).toContainText('Workers: Paused (Drain)', { timeout: 6_000 });

  await page.unroute(`**${STREAM_API}`);
  await expect(linkIndicator(page)).toHaveAttribute('data-link', 'live', { timeout: 10_000 });
});
