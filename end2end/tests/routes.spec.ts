import {
  test,
  expect,
  reset,
  postPause,
  enqueueJob,
  expectRoute,
  nav,
  banner,
  linkIndicator,
  ROUTES,
} from './support';

// Every page has a real URL: it loads directly from it and again after a
// reload, the browser's Back and Forward move between pages, and the layout
// (banner, live indicator, navigation) is on every one.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test('every route loads from its URL and after a reload', async ({ page, request }) => {
  const job = await enqueueJob(request, 'e2e.routes', { deep: 'link' });
  const routes = [
    ...ROUTES,
    { path: `/jobs/${job.id}`, heading: `Job ${job.id}`, nav: 'Jobs' },
    { path: '/audit?action=pause', heading: 'Audit log', nav: 'Audit log' },
  ];
  for (const r of routes) {
    await page.goto(r.path);
    await expectRoute(page, r.heading, r.nav);
    await expect(linkIndicator(page)).toHaveAttribute('data-link', 'live');
    await page.reload();
    await expectRoute(page, r.heading, r.nav);
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe(r.path);
  }
  // The job's page shows the job it names.
  await page.goto(`/jobs/${job.id}`);
  await expect(page.getByRole('region', { name: 'Payload' })).toContainText('"deep": "link"');
});

test('back and forward move between pages without reloading them', async ({ page }) => {
  await page.goto('/');
  await expectRoute(page, 'Pause and resume', 'Overview');
  let loads = 0;
  page.on('load', () => loads++);
  for (const r of ROUTES.slice(1)) {
    await nav(page).getByRole('link', { name: r.nav, exact: true }).click();
    await expect(page).toHaveURL(r.path);
    await expectRoute(page, r.heading, r.nav);
  }
  await page.goBack();
  await expect(page).toHaveURL('/jobs');
  await expectRoute(page, 'Jobs', 'Jobs');
  await page.goBack();
  await expect(page).toHaveURL('/workers');
  await expectRoute(page, 'Workers', 'Workers');
  await page.goBack();
  await expect(page).toHaveURL('/');
  await expectRoute(page, 'Pause and resume', 'Overview');
  await page.goForward();
  await expect(page).toHaveURL('/workers');
  await expectRoute(page, 'Workers', 'Workers');
  expect(loads, 'client-side navigation: no page load').toBe(0);
});

test('the banner follows the state on every page, not only the overview', async ({ page, request }) => {
  await page.goto('/jobs');
  await expect(banner(page)).toContainText('Workers: Running');
  await postPause(request, { action: 'pause', mode: 'quiesce', reason: 'e2e: seen from the jobs page' });
  await expect(banner(page)).toContainText('Workers: Paused (Quiesce)');
  await nav(page).getByRole('link', { name: 'Audit log', exact: true }).click();
  await expect(banner(page)).toContainText('e2e: seen from the jobs page');
  await expect(page.locator('#audit-list li').first()).toContainText('e2e: seen from the jobs page');
});

test('an unknown address says so, inside the layout', async ({ page }) => {
  await page.goto('/no/such/page');
  await expect(page.getByRole('heading', { name: 'No such page' })).toBeVisible();
  await expect(banner(page)).toContainText('Workers:');
  await page.getByRole('link', { name: 'Go to the overview' }).click();
  await expectRoute(page, 'Pause and resume', 'Overview');
});

test('the audit log filters by action and actor, and the filter is in the address', async ({ page, request }) => {
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: filter me' });
  await postPause(request, { action: 'resume', reason: 'e2e: filtered out', forceResume: true });
  await page.goto('/audit');
  await expectRoute(page, 'Audit log', 'Audit log');
  const rows = page.locator('#audit-list > li');
  await expect(rows.first()).toContainText('e2e: filtered out');

  await page.getByLabel('Action').selectOption('pause');
  await expect(page).toHaveURL('/audit?action=pause');
  await expect(rows.first()).toContainText('e2e: filter me');
  for (const action of await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))) {
    expect(action).toBe('pause');
  }
  await page.getByLabel('Actor').fill('nobody-by-this-name');
  await expect(page).toHaveURL('/audit?action=pause&actor=nobody-by-this-name');
  await expect(page.getByText('No loaded event matches the filter.')).toBeVisible();
  await page.getByLabel('Actor').fill('LOC');
  await expect(rows.first()).toContainText('by local');

  // A reload keeps the filter.
  await page.reload();
  await expect(page.getByLabel('Action')).toHaveValue('pause');
  await expect(page.getByLabel('Actor')).toHaveValue('LOC');
  await expect(rows.first()).toContainText('e2e: filter me');
});

test('the audit log pages back through the whole log', async ({ page, request }) => {
  // More events than one page of the log (50).
  for (let i = 1; i <= 26; i++) {
    await postPause(request, { action: 'pause', mode: 'drain', reason: `e2e: page ${i}` });
    await postPause(request, { action: 'resume', reason: `e2e: page ${i} done`, forceResume: true });
  }
  await page.goto('/audit');
  const rows = page.locator('#audit-list > li');
  await expect(rows).toHaveCount(50);
  await page.getByRole('button', { name: 'Show older events' }).click();
  await expect.poll(async () => rows.count()).toBeGreaterThan(50);
  const ids = await rows.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-event-id'))));
  expect(ids).toEqual([...ids].sort((a, b) => b - a));
  expect(new Set(ids).size).toBe(ids.length);
});
