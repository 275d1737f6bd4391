// The device page's service worker. Some browsers (Chrome on Android) show
// notifications only through a service worker; this one shows them for the
// page and, on a click, opens the item's action: http(s) in a window, a deep
// link through the page (which re-checks it before following it). A click or
// a close by the user is told to the page, which closes the item on the
// user's other devices (an item's notification carries the item id in its
// data; its tag is the item id, or the app's tag for it so that a newer item
// of that tag replaces it).
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

async function devicePages() {
  const pages = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return pages.filter((client) => new URL(client.url).pathname.startsWith('/device'));
}

async function tellDismissed(notification) {
  if (!notification.data || typeof notification.data.action !== 'string') return; // a summary: no item of its own
  const id = typeof notification.data.id === 'string' ? notification.data.id : notification.tag;
  for (const page of await devicePages()) page.postMessage({ type: 'presence-dismissed', id });
}

self.addEventListener('notificationclose', (event) => event.waitUntil(tellDismissed(event.notification)));

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const action = event.notification.data && event.notification.data.action;
  event.waitUntil(
    (async () => {
      await tellDismissed(event.notification);
      if (typeof action === 'string' && /^https?:\/\/[^/?#\s]/i.test(action)) {
        await self.clients.openWindow(action);
        return;
      }
      const [page] = await devicePages();
      if (page) {
        await page.focus();
        if (typeof action === 'string') page.postMessage({ type: 'presence-open-action', action });
      } else {
        await self.clients.openWindow('/device');
      }
    })(),
  );
});
