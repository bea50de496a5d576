import { defineConfig } from '@playwright/test';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** Where screenshots and traces go (CI keeps this folder as artefacts). */
export const ARTIFACTS = path.resolve(__dirname, '..', 'e2e-artifacts');
const chromium = process.env.DM_CHROMIUM ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);

export default defineConfig({
  testDir: './specs',
  outputDir: path.join(ARTIFACTS, 'test-results'),
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  // One retry in CI: the tutorial spec drives real containers and a real dm serve and failed
  // once in five fresh-clone runs with the service connection lost; a retry is reported as flaky.
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  globalSetup: require.resolve('./global-setup'),
  globalTeardown: require.resolve('./global-teardown'),
  use: {
    viewport: { width: 1440, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      // Why these flags: Debian's Chromium as root in a container (see shared/ENVIRONMENT.md).
      executablePath: chromium,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
});
