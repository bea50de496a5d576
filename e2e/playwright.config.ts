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
  // No retries: a flaky spec is a bug to find. (The tutorial spec's "lost connection" was Chromium
  // failing a request with net::ERR_NETWORK_CHANGED while Docker added network interfaces; the
  // page now sends such calls again, see renderer/src/api.ts.) Each test keeps the service's
  // output and what the page saw (e2e/logs.ts), attached when it fails.
  retries: 0,
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
