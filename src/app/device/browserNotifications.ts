'use client';
/**
 * The browser's Notification API for the device page: the permission (asked
 * only on a user's click) and one notification per new item.
 */
import { useCallback, useEffect, useState } from 'react';
import type { DeliveredItem } from '@/server/delivery/items';
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

/**
 * Shows new items as browser notifications (title: the app's name; body: the
 * message); a click follows the action. Returns false when the browser
 * refuses to construct one (Chrome on Android allows them only from a
 * service worker).
 */
export function showBrowserNotifications(items: readonly DeliveredItem[]): boolean {
  try {
    for (const item of items.slice(0, MAX_SHOWN_AT_ONCE)) {
      const notification = new window.Notification(item.appName, { body: item.message, tag: item.id });
      notification.onclick = (event) => {
        event.preventDefault();
        notification.close();
        openAction(item.action);
      };
    }
    const rest = items.length - MAX_SHOWN_AT_ONCE;
    if (rest > 0) {
      const summary = new window.Notification('Presence', {
        body: `${rest} more notification${rest === 1 ? '' : 's'}: open the page to see them.`,
        tag: 'presence-summary',
      });
      summary.onclick = () => {
        summary.close();
        window.focus();
      };
    }
    return true;
  } catch {
    return false;
  }
}
