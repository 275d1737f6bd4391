'use client';
/**
 * The received notifications. Everything an app sent is rendered as React
 * text, never as markup; its action becomes a link only when it is safe.
 */
import type { DeliveredItem } from '@/shared/delivery';
import { actionKind } from './actionLink';
import styles from './device.module.css';
import { itemTagKey } from './useDeviceChannel';

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const fullTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

function shortTime(date: Date): string {
  return date.toDateString() === new Date().toDateString() ? timeOfDay.format(date) : dayAndTime.format(date);
}

/** A steady colour per app, for its badge. */
function appHue(appid: string): number {
  let hash = 0;
  for (const char of appid) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) % 360;
  return hash;
}

export function NotificationList({ items, labelledBy }: { items: readonly DeliveredItem[]; labelledBy: string }) {
  if (items.length === 0) {
    return (
      <div className={styles.empty}>
        <p>No notifications yet. They appear here the moment an app sends one.</p>
      </div>
    );
  }
  return (
    <ol className={styles.list} aria-labelledby={labelledBy}>
      {items.map((item) => (
        // A tagged item's card is keyed by its (app, tag): a replacement updates that card instead of mounting another.
        <NotificationCard key={item.tag === undefined ? item.id : `tag:${itemTagKey(item.appid, item.tag)}`} item={item} />
      ))}
    </ol>
  );
}

function NotificationCard({ item }: { item: DeliveredItem }) {
  const created = new Date(item.createdAt);
  return (
    <li className={styles.item}>
      <span className={styles.avatar} style={{ backgroundColor: `hsl(${appHue(item.appid)} 55% 42%)` }} aria-hidden="true">
        {Array.from(item.appName.trim())[0]?.toUpperCase() ?? '?'}
      </span>
      <div className={styles.itemBody}>
        <div className={styles.itemHead}>
          <span className={styles.appName}>{item.appName}</span>
          <time className={styles.time} dateTime={item.createdAt} title={fullTime.format(created)}>
            {shortTime(created)}
          </time>
        </div>
        <p className={styles.message}>{item.message}</p>
        <ActionLink action={item.action} />
      </div>
    </li>
  );
}

/** http(s): a new tab; a deep link: a plain link the OS hands to its app; anything else: text only. */
function ActionLink({ action }: { action: string }) {
  switch (actionKind(action)) {
    case 'web':
      return (
        <a className={styles.action} href={action} target="_blank" rel="noopener noreferrer">
          <span className={styles.actionVerb}>Open link</span>
          <span className={styles.actionTarget}>{action}</span>
        </a>
      );
    case 'deepLink':
      return (
        <a className={styles.action} href={action}>
          <span className={styles.actionVerb}>Open in app</span>
          <span className={styles.actionTarget}>{action}</span>
        </a>
      );
    case 'text':
      return (
        <p className={styles.actionRefused} title="This action is not a link this page follows">
          <span className={styles.actionVerb}>Not opened</span>
          <span className={styles.actionTarget}>{action}</span>
        </p>
      );
  }
}
