import {
  test,
  expect,
  reset,
  banner,
  openDashboard,
  postPause,
  pauseState,
  latestEvents,
  listWorkers,
  registerWorker,
  uniqueId,
  PAUSE_API,
  WORKERS_API,
  JOBS_API,
} from './support';
import type { APIRequestContext } from '@playwright/test';

// Issue 14 in the browser: the banner's "Applied by N of M workers" counts
// up live as workers report the pause version they applied (simulated
// workers heartbeating over REST, as lull-worker does), and the pause form
// shows what a pause would do before it is made (a dry run).

/** Every worker left by earlier tests says goodbye (`stopped`), so only
 *  this test's workers count in the acknowledgement. */
async function retireOthers(request: APIRequestContext) {
  for (const w of await listWorkers(request)) {
    if (w.observedState === 'stopped') continue;
    const res = await request.post(`${WORKERS_API}/${encodeURIComponent(w.id)}/heartbeat`, {
      data: { bootId: w.bootId, state: 'stopped', activeJobs: [] },
    });
    expect(res.status(), `retire ${w.id}: ${await res.text()}`).toBe(200);
  }
}

async function applied(request: APIRequestContext, workerId: string, bootId: string, version: number) {
  const res = await request.post(`${WORKERS_API}/${encodeURIComponent(workerId)}/heartbeat`, {
    data: { bootId, state: 'paused', activeJobs: [], appliedVersion: version },
  });
  expect(res.status(), `heartbeat ${workerId}: ${await res.text()}`).toBe(200);
}

test.describe('pause acknowledgement and impact', () => {
  test('the banner counts up as workers apply the pause, without a reload', async ({ page, request }) => {
    await reset(request);
    await retireOthers(request);
    const ids = [uniqueId('ack-a'), uniqueId('ack-b'), uniqueId('ack-c')];
    const boots: string[] = [];
    for (const id of ids) boots.push(await registerWorker(request, id));
    const paused = await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: acknowledgement' });
    const version = paused.version as number;
    expect(paused.acknowledgement).toMatchObject({ version, total: 3, applied: 0, complete: false });

    await openDashboard(page, 'Workers: Paused (Drain)');
    const ack = banner(page).locator('.banner-ack');
    await expect(ack).toContainText('Applied by 0 of 3 workers');
    await expect(ack).toContainText(`Pending: ${ids[0]}, ${ids[1]}, ${ids[2]}`);
    await expect(ack).toHaveAttribute('data-complete', 'false');

    for (let i = 0; i < ids.length; i++) {
      await applied(request, ids[i], boots[i], version);
      await expect(ack).toContainText(`Applied by ${i + 1} of 3 workers`);
      await expect(ack).not.toContainText(ids[i]);
    }
    await expect(ack).toHaveAttribute('data-complete', 'true');
    await expect(ack).not.toContainText('Pending');
    // The same figures as the API's.
    const status = await pauseState(request);
    expect(status.acknowledgement).toMatchObject({ version, total: 3, applied: 3, complete: true });
    await reset(request);
  });

  test('the pause form shows the impact before pausing, and the dry run changes nothing', async ({ page, request }) => {
    await reset(request);
    await retireOthers(request);
    // Two workers hold a job each (leases), one more job waits.
    for (let i = 0; i < 3; i++) {
      const enq = await request.post(JOBS_API, { data: { type: 'e2e.impact', payload: { n: i } } });
      expect(enq.status(), `enqueue: ${await enq.text()}`).toBe(201);
    }
    for (const id of [uniqueId('impact-a'), uniqueId('impact-b')]) {
      await registerWorker(request, id);
      const res = await request.post(`${JOBS_API}/claim`, { data: { workerId: id, leaseSeconds: 600 } });
      expect(res.status(), `claim: ${await res.text()}`).toBe(200);
      expect((await res.json()).job, 'a job was claimed').not.toBeNull();
    }
    const before = await pauseState(request);
    const eventsBefore = (await latestEvents(request, 50)).length;

    await openDashboard(page, 'Workers: Running');
    const impact = page.locator('#pause-impact');
    await expect(impact).toHaveText(
      'If you pause now: Pausing in drain mode stops 2 workers from claiming; 2 running jobs will finish; 1 queued job will wait.',
    );
    await page.getByLabel('Quiesce').check();
    await expect(impact).toHaveText(
      'If you pause now: Pausing in quiesce mode stops 2 workers from claiming; 2 running jobs will hold at their next checkpoint; 1 queued job will wait.',
    );
    // The figures are the API's dry run of the same request.
    const dry = await request.post(PAUSE_API, {
      data: { action: 'pause', mode: 'quiesce', reason: 'e2e: compare', dryRun: true },
    });
    expect(dry.status()).toBe(200);
    const body = await dry.json();
    expect(body.impact).toMatchObject({ runningJobsHold: 2, queuedJobs: 1, workers: 2, wouldChange: true });
    expect(`If you pause now: ${body.impact.summary}`).toBe(await impact.textContent());
    // Nothing changed: same version, still running, no new event.
    const after = await pauseState(request);
    expect([after.version, after.workersPaused]).toEqual([before.version, false]);
    expect((await latestEvents(request, 50)).length).toBe(eventsBefore);

    // Paused before the drain: the force-resume confirmation says what the
    // resume would do.
    await postPause(request, { action: 'pause', mode: 'drain', reason: 'e2e: impact' });
    await expect(banner(page)).toContainText('Workers: Paused (Drain)');
    await page.locator('#resume-reason').fill('e2e: look first');
    await page.getByRole('button', { name: 'Resume workers' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.locator('#resume-impact')).toContainText('Resuming now is a force-resume: 2 running and 0 stale jobs are still in flight; 2 workers start claiming 1 queued job.');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await pauseState(request)).workersPaused).toBe(true);
    await reset(request);
  });
});
