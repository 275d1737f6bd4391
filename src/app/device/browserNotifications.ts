'use client';
/**
 * The browser's Notification API for the device page: the permission (asked
 * only on a user's click), one notification per new item (its browser tag is
 * the item id, or its (app, tag) for a tagged item, so that the browser
 * replaces it), and closing them when the user dismissed the items on another
 * device or the app retracted them.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { DeliveredItem } from '@/shared/delivery';
import type { TagRef } from './useDeviceChannel';
import { openAction } from './actionLink';

export type NotificationSupport = NotificationPermission | 'unsupported';

/** More new items than this in one message get a single summary notification for the rest. */
const MAX_SHOWN_AT_ONCE = 3;

function currentPermission(): NotificationSupport {
  return typeof window !== 'undefined' && 'Notification' in window ? window.Notification.permission : 'unsupported';
}

/** The permission, kept current, and `request` for a button's click handler. */
export function useNotificationPermission(): [permission: NotificationSupport, request: () => Promise<void>] {
  const [permission, setPermission] = useState<NotificationSupport>(currentPermission);

  useEffect(() => {
    // Follow changes made in the browser's site settings, where it tells us.
    let status: PermissionStatus | null = null;
    const onChange = () => setPermission(currentPermission());
    navigator.permissions
      ?.query({ name: 'notifications' })
      .then((result) => {
        status = result;
        status.addEventListener('change', onChange);
      })
      .catch(() => undefined);
    return () => status?.removeEventListener('change', onChange);
  }, []);

  const request = useCallback(async () => {
    if (!('Notification' in window)) return;
    try {
      await window.Notification.requestPermission();
    } finally {
      // Older Safari answers through a callback only: read the outcome instead.
      setPermission(currentPermission());
    }
  }, []);

  return [permission, request];
}

const SERVICE_WORKER_URL = '/device-sw.js';

/** The user clicked or closed notifications of these items here. */
export type OnUserDismissed = (ids: string[]) => void;

/**
 * Registers the device page's service worker (where the browser has them),
 * through which notifications are shown when `new Notification()` is not
 * allowed, follows the actions it hands back on a click, and passes on the
 * items whose notifications the user clicked or closed.
 */
export function useNotificationServiceWorker(onUserDismissed: OnUserDismissed): void {
  const dismissedRef = useRef(onUserDismissed);
  useEffect(() => {
    dismissedRef.current = onUserDismissed;
  });
  useEffect(() => {
    if (!('serviceWorker' in navigator)) return;
    navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: '/device' }).catch(() => undefined);
    const onMessage = (event: MessageEvent) => {
      // The worker names the item by id (in its data), whatever the notification's browser tag.
      const data = event.data as { type?: string; action?: unknown; id?: unknown } | null;
      if (data?.type === 'presence-open-action' && typeof data.action === 'string') openAction(data.action);
      if (data?.type === 'presence-dismissed' && typeof data.id === 'string') dismissedRef.current([data.id]);
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
    return () => navigator.serviceWorker.removeEventListener('message', onMessage);
  }, []);
}

/** The browser tag of an item's notification: a new item of the same (app, tag) replaces it in the browser. */
function notificationTag(item: { id: string; appid: string; tag?: string }): string {
  return item.tag === undefined ? item.id : tagOfPair(item.appid, item.tag);
}

/** Neither an appid nor a tag has a space, and an item id is digits: no two pairs, nor a pair and an id, share one. */
function tagOfPair(appid: string, tag: string): string {
  return `presence-tag ${appid} ${tag}`;
}

/** Of items arriving together (oldest first), the newest per (app, tag): the browser would replace the others at once. */
function newestPerTag(items: readonly DeliveredItem[]): DeliveredItem[] {
  const last = new Map<string, DeliveredItem>();
  for (const item of items) last.set(notificationTag(item), item);
  return items.filter((item) => last.get(notificationTag(item)) === item);
}

/** One notification through the service worker; false if there is none. */
function showThroughServiceWorker(title: string, options: NotificationOptions & { data?: { action: string; id: string } }): boolean {
  if (!('serviceWorker' in navigator) || !navigator.serviceWorker.controller) return false;
  void navigator.serviceWorker.ready.then((registration) => registration.showNotification(title, options)).catch(() => undefined);
  return true;
}

/** The page's own notifications while they show, by browser tag, with the item each shows. */
const pageNotifications = new Map<string, { id: string; notification: Notification }>();

/** Closes the page's and the service worker's notifications that `wanted` picks (by browser tag and item id). */
function closeWhere(wanted: (tag: string, id: string | undefined) => boolean): void {
  for (const [tag, shown] of pageNotifications) {
    if (!wanted(tag, shown.id)) continue;
    // Forgotten first: its close event is then not taken for the user's.
    pageNotifications.delete(tag);
    shown.notification.close();
  }
  if (!('serviceWorker' in navigator) || !navigator.serviceWorker.controller) return;
  void navigator.serviceWorker.ready
    .then((registration) => registration.getNotifications())
    .then((shown) =>
      shown
        .filter((notification) => wanted(notification.tag, (notification.data as { id?: string } | null)?.id ?? notification.tag))
        .forEach((notification) => notification.close()),
    )
    .catch(() => undefined);
}

/** Closes the notifications of these items (dismissed on another device); one that a newer item of its tag replaced stays. */
export function closeBrowserNotifications(ids: readonly string[]): void {
  const wanted = new Set(ids);
  closeWhere((_tag, id) => id !== undefined && wanted.has(id));
}

/** Closes the notifications of these (app, tag) pairs (the app retracted them). */
export function closeRetractedNotifications(tags: readonly TagRef[]): void {
  const wanted = new Set(tags.map(({ appid, tag }) => tagOfPair(appid, tag)));
  closeWhere((tag) => wanted.has(tag));
}

/**
 * Shows new items as browser notifications (title: the app's name; body: the
 * message; tag: see {@link notificationTag}); a click follows the action. Where the page may
 * not construct notifications itself (Chrome on Android), they go through the
 * service worker. A click or a close by the user goes to `onUserDismissed`.
 * Returns false when neither way is open.
 */
export function showBrowserNotifications(fresh: readonly DeliveredItem[], onUserDismissed: OnUserDismissed): boolean {
  const items = newestPerTag(fresh);
  const rest = items.length - MAX_SHOWN_AT_ONCE;
  const summary = `${rest} more notification${rest === 1 ? '' : 's'}: open the page to see them.`;
  try {
    for (const item of items.slice(0, MAX_SHOWN_AT_ONCE)) {
      const tag = notificationTag(item);
      // The one it replaces is forgotten first: its close is the browser's doing, not the user's.
      pageNotifications.delete(tag);
      const notification = new window.Notification(item.appName, { body: item.message, tag });
      pageNotifications.set(tag, { id: item.id, notification });
      notification.onclick = (event) => {
        event.preventDefault();
        notification.close();
        openAction(item.action);
      };
      // A close that the page did not make (closeBrowserNotifications forgets first) is the user's: a click or a dismissal.
      notification.onclose = () => {
        if (pageNotifications.get(tag)?.notification !== notification) return;
        pageNotifications.delete(tag);
        onUserDismissed([item.id]);
      };
    }
    if (rest > 0) {
      const more = new window.Notification('Presence', { body: summary, tag: 'presence-summary' });
      more.onclick = () => {
        more.close();
        window.focus();
      };
    }
    return true;
  } catch {
    let shown = true;
    for (const item of items.slice(0, MAX_SHOWN_AT_ONCE)) {
      shown &&= showThroughServiceWorker(item.appName, { body: item.message, tag: notificationTag(item), data: { action: item.action, id: item.id } });
    }
    if (rest > 0) shown &&= showThroughServiceWorker('Presence', { body: summary, tag: 'presence-summary' });
    return shown;
  }
}
