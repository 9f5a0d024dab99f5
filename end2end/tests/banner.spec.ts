import { test as base, expect, type APIRequestContext } from '@playwright/test';

// Smoke test of the dashboard's worker-pause banner against the live server:
// the banner follows a pause/resume done over the REST API, without a reload.

const PAUSE_API = '/api/system/worker-pause';

// Every test fails on an uncaught page error or a console error: a blank page
// usually means the WASM bundle did not load, and this is where that shows.
const test = base.extend<{ pageErrors: string[] }>({
  pageErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(`pageerror: ${err.stack ?? err.message}`));
      page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const where = msg.location().url;
        // Chromium asks for /favicon.ico on its own; a 404 there is not the app's error.
        if (/favicon\.ico/.test(where) || /favicon\.ico/.test(msg.text())) return;
        errors.push(`console.error: ${msg.text()}${where ? ` (${where})` : ''}`);
      });
      await use(errors);
      expect(errors, 'page errors and console errors').toEqual([]);
    },
    { auto: true },
  ],
});

async function pauseState(request: APIRequestContext) {
  const res = await request.get(PAUSE_API);
  expect(res.status(), `GET ${PAUSE_API}`).toBe(200);
  return res.json();
}

async function setPause(request: APIRequestContext, body: Record<string, unknown>) {
  const res = await request.post(PAUSE_API, { data: body });
  expect(res.status(), `POST ${PAUSE_API} ${JSON.stringify(body)}: ${await res.text()}`).toBe(200);
  return res.json();
}

// Start from a known state: workers running.
async function ensureRunning(request: APIRequestContext) {
  if ((await pauseState(request)).workersPaused) {
    const body = await setPause(request, {
      action: 'resume',
      reason: 'e2e: reset to a known state',
      forceResume: true,
    });
    expect(body.workersPaused).toBe(false);
  }
}

test.describe('worker pause banner', () => {
  test('health endpoint answers', async ({ request }) => {
    const res = await request.get('/health');
    expect(res.status()).toBe(200);
    expect((await res.json()).healthy).toBe(true);
  });

  test('banner follows pause (drain) and resume without a reload', async ({ page, request }) => {
    await ensureRunning(request);

    await page.goto('/');
    const banner = page.locator('[role="status"]', { hasText: 'Workers:' });
    await expect(banner).toContainText('Workers: Running');

    const paused = await setPause(request, { action: 'pause', mode: 'drain', reason: 'e2e drain' });
    expect(paused.workersPaused).toBe(true);
    await expect(banner).toContainText('Workers: Paused (Drain)', { timeout: 5_000 });

    const resumed = await setPause(request, {
      action: 'resume',
      reason: 'e2e done',
      forceResume: true,
    });
    expect(resumed.workersPaused).toBe(false);
    await expect(banner).toContainText('Workers: Running', { timeout: 5_000 });
  });
});
