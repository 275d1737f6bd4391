'use client';
import { useState } from 'react';
import { AddDevice } from './AddDevice';
import { AppGrants } from './AppGrants';
import {
  closeBrowserNotifications,
  closeRetractedNotifications,
  showBrowserNotifications,
  useNotificationPermission,
  useNotificationServiceWorker,
  type NotificationSupport,
} from './browserNotifications';
import { DaemonInstall } from './DaemonInstall';
import { PageShell } from './PageShell';
import styles from './device.module.css';
import { NotificationList } from './NotificationList';
import { useDeviceChannel, type ConnectionState } from './useDeviceChannel';

const CONNECTION_LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
};

/** The signed-in page: the daemon's state, the notification controls and the list. */
export function DaemonView({ token, onSignOut, onRefused }: { token: string; onSignOut: () => void; onRefused: (message: string) => void }) {
  const [permission, requestPermission] = useNotificationPermission();
  const [notificationsFailed, setNotificationsFailed] = useState(false);
  const { connection, device, items, problem, clear, requestPairingCode, dismiss, listGrants, revokeGrant } = useDeviceChannel(token, {
    onRefused,
    onNewItems: (fresh) => {
      // Read at the moment: the permission can change in the browser's settings.
      if (!('Notification' in window) || window.Notification.permission !== 'granted') return;
      if (!showBrowserNotifications(fresh, dismiss)) setNotificationsFailed(true);
    },
    onDismissed: closeBrowserNotifications,
    onRetracted: closeRetractedNotifications,
  });
  // Clicks and dismissals of the service worker's notifications close them on the user's other devices too.
  useNotificationServiceWorker(dismiss);

  return (
    <PageShell
      status={
        <span className={styles.badge} data-state={connection} role="status">
          <span className={styles.dot} aria-hidden="true" />
          {CONNECTION_LABELS[connection]}
        </span>
      }
    >
      <section className={styles.card} aria-label="This device">
        <p className={styles.connectedAs}>
          {device ? (
            <>
              Connected as <strong>{device.deviceName}</strong>
            </>
          ) : (
            'Connecting to Presence…'
          )}
        </p>
        <p className={styles.hint}>Keep this page open: your notifications appear here the moment an app sends them.</p>
        <div className={styles.controls}>
          <NotificationControl permission={permission} failed={notificationsFailed} onEnable={() => void requestPermission()} />
          <button className={styles.secondaryButton} type="button" onClick={onSignOut}>
            Sign out of this device
          </button>
        </div>
      </section>

      {problem && (
        <p className={styles.warning} role="status">
          {problem}
        </p>
      )}

      <section className={styles.listSection}>
        <div className={styles.listHeader}>
          <h1 className={styles.title} id="notifications-heading">
            Notifications
          </h1>
          {items.length > 0 && (
            <button className={styles.textButton} type="button" onClick={clear}>
              Clear list
            </button>
          )}
        </div>
        <NotificationList items={items} labelledBy="notifications-heading" />
      </section>

      <AppGrants connected={connection === 'connected'} listGrants={listGrants} revokeGrant={revokeGrant} />

      <AddDevice requestPairingCode={requestPairingCode} />

      <DaemonInstall />
    </PageShell>
  );
}

function NotificationControl({ permission, failed, onEnable }: { permission: NotificationSupport; failed: boolean; onEnable: () => void }) {
  if (permission === 'default') {
    return (
      <button className={styles.primaryButton} type="button" onClick={onEnable}>
        Enable browser notifications
      </button>
    );
  }
  const text = {
    granted: failed ? 'This browser shows notifications only from installed apps; this list stays up to date.' : 'Browser notifications are on.',
    denied: "Browser notifications are blocked for this site: allow them in the browser's site settings.",
    unsupported: 'This browser has no notifications; this list stays up to date.',
  }[permission];
  return <p className={styles.notificationState}>{text}</p>;
}
