import type { Session, WebContents } from 'electron';

/** The Content-Security-Policy of the app's pages (also set as a meta tag in renderer/index.html). */
export const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** The one permission the page gets: writing text to the clipboard ("Copy link"). */
const ALLOWED_PERMISSION = 'clipboard-sanitized-write';

/** Denies every permission request (camera, notifications from the page, geolocation…) but clipboard writes, and adds the CSP header. */
export function hardenSession(ses: Session): void {
  // Why allow clipboard writes: navigator.clipboard.writeText needs it in Electron; reading stays denied.
  ses.setPermissionRequestHandler((_wc, permission, callback) => callback(permission === ALLOWED_PERMISSION));
  ses.setPermissionCheckHandler((_wc, permission) => permission === ALLOWED_PERMISSION);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
}

/** Navigation away from the app, new windows and <webview> are refused; http(s) links open in the browser. */
export function hardenContents(contents: WebContents, isAppUrl: (url: string) => boolean, openExternal: (url: string) => void): void {
  contents.on('will-navigate', (e, url) => { if (!isAppUrl(url)) e.preventDefault(); });
  contents.on('will-redirect', (e, url) => { if (!isAppUrl(url)) e.preventDefault(); });
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) openExternal(url);
    return { action: 'deny' };
  });
}
