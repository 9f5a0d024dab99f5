import {
  test,
  expect,
  reset,
  pauseState,
  startJobs,
  openDashboard,
  banner,
  pauseButton,
  resumeButton,
} from '../tests/support';

// The release binary alone, run from an empty directory (see
// playwright.embedded.config.ts): the dashboard it serves is the one built
// into it — the page works end to end, and its files carry the headers a
// browser caches by.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test('the embedded files: types, ETags, 304, cache policy, gzip', async ({ request }) => {
  const index = await request.get('/');
  expect(index.status()).toBe(200);
  expect(index.headers()['content-type']).toBe('text/html; charset=utf-8');
  expect(index.headers()['cache-control']).toBe('no-cache');
  const html = await index.text();
  expect(html).toContain('<script id="lull-config" type="application/json">');

  // Trunk's hashed outputs, as index.html names them.
  const js = html.match(/\/(frontend-[0-9a-f]+\.js)/)?.[1];
  const wasm = html.match(/\/(frontend-[0-9a-f]+_bg\.wasm)/)?.[1];
  expect(js, 'index.html names the JS').toBeTruthy();
  expect(wasm, 'index.html names the WASM').toBeTruthy();
  for (const [file, type] of [
    [js!, 'text/javascript; charset=utf-8'],
    [wasm!, 'application/wasm'],
  ]) {
    const res = await request.get(`/${file}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status(), file).toBe(200);
    const h = res.headers();
    expect(h['content-type'], file).toBe(type);
    expect(h['cache-control'], file).toBe('public, max-age=31536000, immutable');
    expect(h['content-encoding'], file).toBe('gzip');
    const etag = h['etag'];
    expect(etag, file).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await request.get(`/${file}`, { headers: { 'if-none-match': etag } });
    expect(again.status(), file).toBe(304);
  }
  // A client route gets the page too.
  const route = await request.get('/workers');
  expect(route.status()).toBe(200);
  expect(await route.text()).toBe(html);
});

test('banner, pause from the page, force-resume dialog', async ({ page, request }) => {
  await openDashboard(page, 'Workers: Running');

  // Two jobs run, so the fleet cannot drain before the resume.
  await startJobs(request, 2);
  await page.getByRole('radio', { name: 'Drain' }).check();
  await page.locator('#pause-reason').fill('e2e: embedded smoke');
  await pauseButton(page).click();
  await expect(banner(page)).toContainText('Workers: Paused (Drain)');
  await expect(banner(page)).toContainText('e2e: embedded smoke');
  expect((await pauseState(request)).workersPaused).toBe(true);

  await page.locator('#resume-reason').fill('e2e: embedded smoke done');
  await resumeButton(page).click();
  const dialog = page.getByRole('dialog', { name: 'Resume before the fleet has drained?' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('2 jobs are still running');
  await dialog.getByRole('button', { name: 'Continue' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(banner(page)).toContainText('Workers: Running');
  await expect(banner(page)).toContainText('Resumed before full drain');
  expect((await pauseState(request)).workersPaused).toBe(false);
});
