import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test, expect } from '../fixtures';

// Docker is configured but not running (DOCKER_HOST points at a dead socket): work on the data
// goes on, and the UI says what happened and what to do.
test.use({ appEnv: { DM_DOCKER: '1', DOCKER_HOST: 'unix:///tmp/dotdesk-e2e-no-docker.sock' } });

test('Docker stopped: commit and checkout still work and say what to do', async ({ app }) => {
  const { ui } = app;
  app.dm('init', 'counter');
  writeFileSync(path.join(app.dm('dot', 'path', 'counter', 'redis'), 'dump.rdb'), 'REDIS0009 clicks=41');
  const dot = await ui.openDot('counter');
  await dot.commitButton.click();
  await ui.commitDialog.message.fill('41 clicks');
  await ui.commitDialog.submit.click();
  const warn = ui.alert('Docker was not reachable');
  await expect(warn).toBeVisible();
  await expect(warn).toContainText('Start Docker');
  await expect(warn).toContainText('DOCKER_UNAVAILABLE');
  await expect(dot.commit('41 clicks')).toContainText('no docker');
  await app.shot('01-commit-without-docker');

  await dot.newBranchButton.click();
  await ui.newBranchDialog.name.fill('more-clicks');
  await ui.newBranchDialog.submit.click();
  await expect(dot.currentBranch('more-clicks')).toBeVisible();
  await dot.switchTo('master').click();
  await ui.checkoutDialog.confirm.click();
  const note = ui.alert('containers were not restarted');
  await expect(note).toBeVisible();
  await expect(note).toContainText('Docker is not reachable');
  await expect(note).toContainText('What to do');
  await expect(dot.currentBranch('master')).toBeVisible();
  await app.shot('02-checkout-without-docker');
});
