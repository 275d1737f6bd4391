'use client';
import Link from 'next/link';
import { QUEUE_CAPACITY } from '@/shared/limits';
import type { QueueRow } from '../_connection/rows.ts';

export function queueHref(uid: string): string {
  return `/admin/queues/${encodeURIComponent(uid)}`;
}

/** The fill of a queue: its size and a bar against the cap. */
export function QueueSize({ size }: { size: number }) {
  return (
    <span className="queue-size">
      <span className="queue-size-number" data-testid="queue-size">
        {size}
      </span>
      <span className="queue-size-bar" aria-hidden="true">
        <span style={{ width: `${Math.min(100, (size / QUEUE_CAPACITY) * 100)}%` }} className={size >= QUEUE_CAPACITY ? 'is-full' : undefined} />
      </span>
    </span>
  );
}

/** Every (user, app) queue given, one row each, with a link to its items. */
export function QueueTable({ queues }: { queues: QueueRow[] }) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="queue-table">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">App</th>
            <th scope="col">UID</th>
            <th scope="col" className="numeric">
              Size
            </th>
            <th scope="col">
              <span className="visually-hidden">Items</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {queues.map((queue) => (
            <tr key={queue.uid} data-testid="queue-row" data-uid={queue.uid}>
              <td>{queue.userName}</td>
              <td className="nowrap">
                <code>{queue.appId}</code>
              </td>
              <td>
                <code className="uid">{queue.uid}</code>
              </td>
              <td className="numeric">
                <QueueSize size={queue.size} />
              </td>
              <td className="actions">
                <Link href={queueHref(queue.uid)} aria-label={`Items of ${queue.userName}'s ${queue.appId} queue`}>
                  Items →
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
