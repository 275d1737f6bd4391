// The device page's service worker. Some browsers (Chrome on Android) show
// notifications only through a service worker; this one shows them for the
// page and, on a click, opens the item's action: http(s) in a window, a deep
// link through the page (which re-checks it before following it).
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const action = event.notification.data && event.notification.data.action;
  event.waitUntil(
    (async () => {
      if (typeof action === 'string' && /^https?:\/\/[^/?#\s]/i.test(action)) {
        await self.clients.openWindow(action);
        return;
      }
      const pages = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const page = pages.find((client) => new URL(client.url).pathname.startsWith('/device'));
      if (page) {
        await page.focus();
        if (typeof action === 'string') page.postMessage({ type: 'presence-open-action', action });
      } else {
        await self.clients.openWindow('/device');
      }
    })(),
  );
});
