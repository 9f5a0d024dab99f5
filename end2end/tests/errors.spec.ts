import {
  test,
  expect,
  reset,
  pauseState,
  postPause,
  openDashboard,
  banner,
  pauseButton,
  notice,
} from './support';

// What the person sees when a request is refused: a validation error under
// its field, a version conflict with the new state, an unreachable server.

test.beforeEach(async ({ request }) => {
  await reset(request);
});

test('an empty reason is refused by the browser; a blank one by the server, under the field', async ({
  page,
  request,
  consoleErrors,
}) => {
  // The server function refuses with the REST status (422), which Chromium logs.
  consoleErrors.allow(/status of 422/);
  await openDashboard(page, 'Workers: Running');
  const reason = page.locator('#pause-reason');
  const sent: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/sfn/change_pause')) sent.push(r.url());
  });

  // Empty: the required field stops the form before anything is sent.
  await pauseButton(page).click();
  expect(await reason.evaluate((el: HTMLInputElement) => el.validity.valueMissing)).toBe(true);
  await expect(reason).toBeFocused();
  expect(sent).toEqual([]);

  // Blank: only the server knows it is empty once trimmed; its field error
  // goes under the input and is tied to it.
  await reason.fill('   ');
  await pauseButton(page).click();
  const error = page.locator('#pause-reason-error');
  await expect(error).toHaveText('reason must not be empty');
  await expect(reason).toHaveAttribute('aria-invalid', 'true');
  await expect(reason).toHaveAttribute('aria-describedby', 'pause-reason-error');
  await expect(reason).toHaveAccessibleDescription('reason must not be empty');
  await expect(reason).toBeFocused();
  expect(sent).toHaveLength(1);
  expect((await pauseState(request)).workersPaused).toBe(false);
  await expect(banner(page)).toContainText('Workers: Running');

  // Typing clears the error.
  await reason.fill('e2e: a real reason');
  await expect(error).toBeEmpty();
  await expect(reason).not.toHaveAttribute('aria-invalid', 'true');
});

test('a version conflict shows the new state instead of overriding it', async ({ page, request, consoleErrors }) => {
  // The server function refuses with the REST status (409), which Chromium logs.
  consoleErrors.allow(/status of 409/);
  await openDashboard(page, 'Workers: Running');
  // Someone else pauses (quiesce) after the page read the state but before
  // its request arrives.
  await page.route('**/sfn/change_pause', async (route) => {
    await postPause(request, { action: 'pause', mode: 'quiesce', reason: 'e2e: the other operator' });
    await route.continue();
  });
  await page.getByRole('radio', { name: 'Drain' }).check();
  await page.locator('#pause-reason').fill('e2e: my drain');
  await pauseButton(page).click();

  await expect(notice(page)).toContainText('The state changed — here is the new one: Workers: Paused (Quiesce)');
  await expect(notice(page)).toBeFocused();
  await expect(banner(page)).toContainText('Workers: Paused (Quiesce)');
  await expect(banner(page)).toContainText('e2e: the other operator');
  const state = await pauseState(request);
  expect(state).toMatchObject({ mode: 'quiesce', reason: 'e2e: the other operator' });
  await expect(notice(page)).toContainText(`version ${state.version}`);
});

test('an unreachable server is reported, and nothing pretends to have changed', async ({
  page,
  request,
  consoleErrors,
}) => {
  consoleErrors.allow(/ERR_FAILED|Failed to fetch/);
  await openDashboard(page, 'Workers: Running');
  await page.route('**/sfn/change_pause', (route) => route.abort());
  await page.locator('#pause-reason').fill('e2e: into the void');
  await pauseButton(page).click();
  await expect(notice(page)).toContainText('Could not reach the server');
  await expect(notice(page)).toHaveAttribute('data-kind', 'error');
  await expect(banner(page)).toContainText('Workers: Running');
  expect((await pauseState(request)).workersPaused).toBe(false);
  // The reason is kept for a retry.
  await expect(page.locator('#pause-reason')).toHaveValue('e2e: into the void');
});
