import * as path from 'node:path';

/** Prints where the screenshots are (CI keeps that folder). */
export default async function globalTeardown(): Promise<void> {
  process.stdout.write(`\nE2E screenshots and traces: ${path.resolve(__dirname, '..', 'e2e-artifacts')}/ (screenshots/ holds one PNG per step)\n`);
}
