#!/usr/bin/env node
// Renders assets/icon.svg to the PNGs electron-builder needs (icon.png 1024 px for macOS and
// Windows, icons/NxN.png for Linux) with Chromium, so the PNGs match the SVG exactly.
// Run: node assets/make-icons.mjs (needs Chromium: /usr/bin/chromium or DM_CHROMIUM).
import { chromium } from 'playwright';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('.', import.meta.url).pathname;
const svg = readFileSync(join(dir, 'icon.svg'), 'utf8');
const browser = await chromium.launch({ executablePath: process.env.DM_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
mkdirSync(join(dir, 'icons'), { recursive: true });
for (const size of [1024, 512, 256, 128, 64, 48, 32, 16]) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg.replace('width="64" height="64"', `width="${size}" height="${size}"`)}</body></html>`);
  const png = await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
  if (size === 1024) writeFileSync(join(dir, 'icon.png'), png);
  else writeFileSync(join(dir, 'icons', `${size}x${size}.png`), png);
}
await browser.close();
console.log('icons written to', dir);
