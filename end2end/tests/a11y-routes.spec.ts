import type { Page } from '@playwright/test';
import {
  test,
  expect,
  reset,
  postPause,
  enqueueJob,
  claimJob,
  uniqueId,
  registerWorker,
  quietFleet,
  expectRoute,
  expectAccessible,
  expectNoSideScroll,
  nav,
  ROUTES,
} from './support';

// axe-core on every route (and the states only they have) and the 360 px
// phone layout of every route; a11y-layout.spec.ts covers the overview's states.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test.afterEach(async ({ request }) => {
  await reset(request);
});

/** Some of everything, so no page is empty. */
async function populate(page: Page, request: import('@playwright/test').APIRequestContext) {
  await quietFleet(request);
  await registerWorker(request, uniqueId('a11y-w'));
  const type = uniqueId('e2e.a11y');
  const job = await enqueueJob(request, type, { a11y: true });
  await claimJob(request, type, 'e2e-a11y-worker');
  await enqueueJob(request, type, { queued: true });
  await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: a11y on every page' });
  return job;
}

test('every route passes axe-core', async ({ page, request }) => {
  const job = await populate(page, request);
  const routes = [
    ...ROUTES,
    { path: `/jobs/${job.id}`, heading: `Job ${job.id}`, nav: 'Jobs' },
    { path: '/jobs?status=running', heading: 'Jobs', nav: 'Jobs' },
    { path: '/audit?action=pause&actor=loc', heading: 'Audit log', nav: 'Audit log' },
  ];
  for (const r of routes) {
    await page.goto(r.path);
    await expectRoute(page, r.heading, r.nav);
    await expectAccessible(page, r.path);
  }
  await page.goto('/nowhere');
  await expect(page.getByRole('heading', { name: 'No such page' })).toBeVisible();
  await expectAccessible(page, 'not found');
});

test('every route fits a 360 px phone, navigation included', async ({ page, request }) => {
  const job = await populate(page, request);
  await page.setViewportSize({ width: 360, height: 780 });
  for (const r of [...ROUTES, { path: `/jobs/${job.id}`, heading: `Job ${job.id}`, nav: 'Jobs' }]) {
    await page.goto(r.path);
    await expectRoute(page, r.heading, r.nav);
    await expectNoSideScroll(page);
    for (const link of await nav(page).getByRole('link').all()) {
      const box = await link.boundingBox();
      expect(box, 'nav link has a box').not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(360);
    }
    await expectAccessible(page, `phone ${r.path}`);
  }
  // The job page's action and its dialog fit too.
  await page.goto(`/jobs/${job.id}`);
  await page.getByRole('button', { name: 'Cancel job' }).click();
  const dialog = page.getByRole('dialog');
  for (const name of ['Keep it', 'Cancel job']) {
    const button = dialog.getByRole('button', { name });
    await expect(button).toBeInViewport();
    const box = await button.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(360);
  }
  await expectNoSideScroll(page);
});
