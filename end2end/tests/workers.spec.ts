import {
  test,
  expect,
  expectAccessible,
  listWorkers,
  openWorkers,
  quietFleet,
  registerWorker,
  reset,
  uniqueId,
  workerHeartbeat,
  workerRow,
  WORKERS_API,
} from './support';

// The Workers tab (issue 5) against the shared server in disabled auth
// mode: simulated workers register and heartbeat over REST, the page acts
// on them. Each test pauses whatever earlier tests left available, and
// uses fresh worker ids.

test.beforeEach(async ({ request }) => {
  await reset(request);
  await quietFleet(request);
});

const dialog = (page: import('@playwright/test').Page) => page.getByRole('dialog');

test('drain two selected workers: the dialog states the impact, the states move', async ({ page, request }) => {
  const [a, b, c] = [uniqueId('w-a'), uniqueId('w-b'), uniqueId('w-c')];
  const boots: Record<string, string> = {};
  for (const id of [a, b, c]) boots[id] = await registerWorker(request, id);

  await openWorkers(page);
  // Disabled auth mode: no sign-in, every control.
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  await expect(workerRow(page, a)).toBeVisible();
  await expect(workerRow(page, a).locator('[data-col="observed"]')).toHaveText('running');

  const drain = page.getByRole('button', { name: 'Drain', exact: true });
  await expect(drain).toBeDisabled();
  await page.getByRole('checkbox', { name: `Select ${a}` }).check();
  await page.getByRole('checkbox', { name: `Select ${b}` }).check();
  await expect(page.getByText('2 selected')).toBeVisible();
  await page.getByLabel('Reason (required)').last().fill('e2e: take two hosts out');
  await drain.click();

  const d = dialog(page);
  await expect(d).toBeVisible();
  await expect(d.getByRole('heading')).toHaveText('Drain 2 workers?');
  await expect(d).toContainText('Workers affected: 2');
  await expect(d).toContainText(a);
  await expect(d).toContainText('Jobs they are running: 0');
  await expect(d.locator('[data-eta]')).toHaveText('now: they run no jobs');
  await expect(page.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await expectAccessible(page, 'workers: drain dialog');
  await page.keyboard.press('Escape');
  await expect(d).toBeHidden();
  await expect(drain).toBeFocused();

  await drain.click();
  await d.getByRole('button', { name: 'Continue' }).click();
  await expect(d).toBeHidden();
  await expect(page.locator('#fleet-notice')).toContainText('Drain applied to 2 workers');
  await expect(workerRow(page, a).locator('[data-col="desired"]')).toHaveText('draining', { timeout: 10_000 });
  await expect(workerRow(page, b).locator('[data-col="desired"]')).toHaveText('draining');
  await expect(workerRow(page, c).locator('[data-col="desired"]')).toHaveText('active');

  // The workers obey: draining, then goodbye.
  for (const id of [a, b]) expect(await workerHeartbeat(request, id, boots[id], 'draining')).toBe('drain');
  await expect(workerRow(page, a).locator('[data-col="observed"]')).toHaveText('draining', { timeout: 10_000 });
  for (const id of [a, b]) await workerHeartbeat(request, id, boots[id], 'stopped');
  await expect(workerRow(page, a).locator('[data-col="observed"]')).toHaveText('stopped', { timeout: 10_000 });
  await expect(workerRow(page, b).locator('[data-col="observed"]')).toHaveText('stopped');

  // Filter by observed state.
  await page.getByLabel('Observed state').selectOption('stopped');
  await expect(workerRow(page, a)).toBeVisible();
  await expect(workerRow(page, c)).toHaveCount(0);
  await page.getByLabel('Observed state').selectOption('');
  await expect(workerRow(page, c)).toBeVisible();

  const audit = (await listWorkers(request)).filter((w) => [a, b].includes(w.id));
  expect(audit.map((w) => w.desiredState)).toEqual(['draining', 'draining']);
});

test('the table sorts by a header and says so with aria-sort', async ({ page, request }) => {
  const ids = [uniqueId('s-b'), uniqueId('s-a')];
  for (const id of ids) await registerWorker(request, id);
  await openWorkers(page);
  const header = page.getByRole('columnheader', { name: /Worker/ });
  await expect(header).toHaveAttribute('aria-sort', 'ascending');
  await page.getByRole('button', { name: /^Worker/ }).click();
  await expect(header).toHaveAttribute('aria-sort', 'descending');
  await page.getByRole('button', { name: /^Hostname/ }).click();
  await expect(page.getByRole('columnheader', { name: /Hostname/ })).toHaveAttribute('aria-sort', 'ascending');
  await expect(header).not.toHaveAttribute('aria-sort', /.+/);
  // The sort button keeps focus across refreshes of the table.
  await page.getByRole('button', { name: /^Hostname/ }).focus();
  await page.waitForTimeout(3_500);
  await expect(page.getByRole('button', { name: /^Hostname/ })).toBeFocused();
  await expectAccessible(page, 'workers tab');
});

test('draining every available worker asks for the typed phrase', async ({ page, request, consoleErrors }) => {
  // The safety refusal comes back with the REST status (409), which Chromium logs.
  consoleErrors.allow(/status of 409/);
  const [a, b] = [uniqueId('all-a'), uniqueId('all-b')];
  for (const id of [a, b]) await registerWorker(request, id);
  await openWorkers(page);
  await page.getByRole('checkbox', { name: `Select ${a}` }).check();
  await page.getByRole('checkbox', { name: `Select ${b}` }).check();
  await page.getByLabel('Reason (required)').last().fill('e2e: everything down');
  await page.getByRole('button', { name: 'Drain', exact: true }).click();
  const d = dialog(page);
  await d.getByRole('button', { name: 'Continue' }).click();

  // The server refuses: the dialog now shows the impact and the phrase.
  const phrase = 'drain 2 workers';
  await expect(d.getByRole('heading')).toHaveText('Confirm: this would leave too few workers available');
  await expect(d).toContainText('Available workers: 2 → 0');
  await expect(d.locator('.phrase')).toHaveText(phrase);
  const typed = d.getByLabel(`Type ${phrase} to confirm`);
  await expect(typed).toBeFocused();
  const go = d.getByRole('button', { name: 'Continue' });
  await expect(go).toBeDisabled();
  await typed.fill('drain 2 worker');
  await expect(go).toBeDisabled();
  await expect((await listWorkers(request)).find((w) => w.id === a)?.desiredState).toBe('active');
  await expectAccessible(page, 'workers: typed confirmation');
  await typed.fill(phrase);
  await expect(go).toBeEnabled();
  await go.click();
  await expect(d).toBeHidden();
  await expect(page.locator('#fleet-notice')).toContainText('safety override');
  await expect(workerRow(page, a).locator('[data-col="desired"]')).toHaveText('draining', { timeout: 10_000 });
  const events = await (await request.get('/api/system/worker-pause/events?limit=3')).json();
  expect(events.events[0].action).toBe('worker.drain');
  expect(events.events[0].success).toBe(true);
  expect(events.events[0].details.overrideUsed).toBe(true);
  // The refusal before it is in the trail too, and the page marks it.
  expect(events.events[1]).toMatchObject({ action: 'worker.drain', success: false, targets: [a, b] });
  expect(events.events[1].details.refused).toBe('safety_check');
  await page.goto('/#/');
  await expect(page.locator(`#audit-list li[data-version="${events.events[1].version}"]`).first()).toBeVisible();
  await expect(page.locator('#audit-list li').nth(1)).toContainText('refused');
});

test('a rolling restart shows live progress until every worker is back', async ({ page, request }) => {
  test.setTimeout(60_000);
  const ids = [uniqueId('rr-a'), uniqueId('rr-b'), uniqueId('rr-c')];
  const boots: Record<string, string> = {};
  for (const id of ids) boots[id] = await registerWorker(request, id);
  await openWorkers(page);
  for (const id of ids.slice(0, 2)) await page.getByRole('checkbox', { name: `Select ${id}` }).check();
  await page.getByLabel('Reason (required)').last().fill('e2e: new worker build');
  await page.getByLabel('Max unavailable').fill('1');
  await page.getByRole('button', { name: 'Rolling restart' }).click();
  const d = dialog(page);
  await expect(d.getByRole('heading')).toHaveText('Rolling restart of 2 workers?');
  await expect(d).toContainText('At most 1 drained or restarting at a time');
  await d.getByRole('button', { name: 'Continue' }).click();
  await expect(d).toBeHidden();

  const panel = page.locator('section.rollout');
  await expect(panel).toBeVisible();
  await expect(panel.locator('#rollout-status')).toHaveText('running');
  await expect(panel.getByRole('button', { name: 'Cancel rolling restart' })).toBeVisible();
  const seen = new Set<string>();
  // Simulated supervisors: a worker told to drain stops and comes back
  // with a new boot id; the others keep heartbeating.
  await expect
    .poll(
      async () => {
        for (const id of ids) {
          const directive = await workerHeartbeat(request, id, boots[id], 'running');
          if (directive === 'drain') {
            await workerHeartbeat(request, id, boots[id], 'stopped');
            boots[id] = await registerWorker(request, id);
          }
        }
        for (const li of await panel.locator('li[data-worker-id]').all()) {
          seen.add((await li.locator('.state').textContent()) ?? '');
        }
        return panel.locator('#rollout-status').textContent();
      },
      { timeout: 45_000, intervals: [500] },
    )
    .toBe('done');
  expect([...seen].some((s) => s === 'draining' || s === 'restarting'), `states seen: ${[...seen]}`).toBe(true);
  await expect(panel.locator('li[data-worker-id] .state')).toHaveText(['done', 'done']);
  await expect(panel.getByRole('button', { name: 'Cancel rolling restart' })).toBeHidden();
  const rr = await (await request.get(`${WORKERS_API}/rolling-restarts`)).json();
  expect(rr[0].status).toBe('done');
});

test('a running rolling restart can be cancelled from the page', async ({ page, request }) => {
  const ids = [uniqueId('rc-a'), uniqueId('rc-b'), uniqueId('rc-c')];
  for (const id of ids) await registerWorker(request, id);
  await openWorkers(page);
  for (const id of ids.slice(0, 2)) await page.getByRole('checkbox', { name: `Select ${id}` }).check();
  await page.getByLabel('Reason (required)').last().fill('e2e: restart to cancel');
  await page.getByRole('button', { name: 'Rolling restart' }).click();
  await dialog(page).getByRole('button', { name: 'Continue' }).click();
  const panel = page.locator('section.rollout');
  await expect(panel.locator('#rollout-status')).toHaveText('running');
  await panel.getByRole('button', { name: 'Cancel rolling restart' }).click();
  await expect(page.locator('#fleet-notice')).toContainText('Rolling restart cancelled');
  await expect(panel.locator('#rollout-status')).toHaveText('cancelled', { timeout: 10_000 });
});
