// Finds the Electron binary without triggering its download (require('electron') would try).
// Returns { path } when one exists, else { reason } saying why the app cannot launch here.
const fs = require('node:fs');
const path = require('node:path');

function electronBinary(root = path.join(__dirname, '..')) {
  if (process.env.DM_NO_ELECTRON === '1') return { reason: 'DM_NO_ELECTRON=1' };
  const dir = path.join(root, 'node_modules', 'electron');
  if (!fs.existsSync(dir)) return { reason: 'the electron package is not installed' };
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  let rel;
  try { rel = fs.readFileSync(path.join(dir, 'path.txt'), 'utf8').trim(); } catch {}
  const candidates = [];
  if (override) candidates.push(path.join(override, rel || (process.platform === 'win32' ? 'electron.exe' : 'electron')));
  if (rel) candidates.push(path.join(dir, 'dist', rel));
  for (const c of candidates) if (fs.existsSync(c)) return { path: c };
  return { reason: 'no Electron binary: its download failed or was skipped (no internet here; see shared/ENVIRONMENT.md)' };
}

module.exports = { electronBinary };
