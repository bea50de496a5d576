import type { MenuItemConstructorOptions } from 'electron';

/** The app menu with the usual shortcuts; app commands go to the renderer as menu actions. */
export function menuTemplate(opts: { isMac: boolean; dev: boolean; send: (action: string) => void; appName: string }): MenuItemConstructorOptions[] {
  const { isMac, dev, send } = opts;
  const t: MenuItemConstructorOptions[] = [];
  if (isMac) t.push({ role: 'appMenu' });
  t.push({
    label: '&File',
    submenu: [
      { label: 'New Dot…', accelerator: 'CmdOrCtrl+N', click: () => send('new-dot') },
      { label: 'New Branch…', accelerator: 'CmdOrCtrl+Shift+N', click: () => send('new-branch') },
      { label: 'Commit…', accelerator: 'CmdOrCtrl+Enter', click: () => send('commit') },
      { type: 'separator' },
      { label: 'Refresh', accelerator: 'F5', click: () => send('refresh') },
      { type: 'separator' },
      isMac ? { role: 'close' } : { role: 'quit' },
    ],
  });
  t.push({ role: 'editMenu' });
  t.push({
    label: '&Dot',
    submenu: [
      { label: 'Undo Last Operation', accelerator: 'CmdOrCtrl+Alt+Z', click: () => send('undo') },
    ],
  });
  t.push({
    label: '&View',
    submenu: [
      { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' },
      ...(dev ? [{ type: 'separator' as const }, { role: 'reload' as const }, { role: 'toggleDevTools' as const }] : []),
    ],
  });
  t.push({ role: 'windowMenu' });
  t.push({ role: 'help', submenu: [{ label: `About ${opts.appName}`, role: 'about' }] });
  return t;
}
