'use client';
/** Every queue and its size, live from `admin.queues.watch`, with totals, sort and filter. */
import { useMemo, useState } from 'react';
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useWatch } from '../_connection/hooks.ts';
import type { QueueRow } from '../_connection/rows.ts';
import { QueueTable } from './QueueTable.tsx';

type SortKey = 'size' | 'app' | 'user';

const byKey: Record<SortKey, (a: QueueRow, b: QueueRow) => number> = {
  size: (a, b) => b.size - a.size || a.appId.localeCompare(b.appId) || a.userName.localeCompare(b.userName),
  app: (a, b) => a.appId.localeCompare(b.appId) || a.userName.localeCompare(b.userName) || a.uid.localeCompare(b.uid),
  user: (a, b) => a.userName.localeCompare(b.userName) || a.appId.localeCompare(b.appId) || a.uid.localeCompare(b.uid),
};

function matches(queue: QueueRow, filter: string): boolean {
  const needle = filter.trim().toLowerCase();
  if (!needle) return true;
  return [queue.userName, queue.appId, queue.uid].some((text) => text.toLowerCase().includes(needle));
}

export function QueuesView() {
  const { data: queues, error } = useWatch<QueueRow[]>((client, handlers) => client.admin.queues.watch.subscribe(undefined, handlers));
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<SortKey>('size');

  const shown = useMemo(() => (queues ?? []).filter((q) => matches(q, filter)).sort(byKey[sort]), [queues, filter, sort]);
  const totalItems = (queues ?? []).reduce((sum, q) => sum + q.size, 0);

  return (
    <>
      <ErrorAlert message={error} />
      <dl className="stats" aria-label="Totals">
        <div>
          <dt>Queues</dt>
          <dd data-testid="total-queues">{queues ? queues.length : '…'}</dd>
        </div>
        <div>
          <dt>Items queued</dt>
          <dd data-testid="total-items">{queues ? totalItems : '…'}</dd>
        </div>
      </dl>

      {queues === undefined ? (
        error ? null : (
          <p className="muted" role="status">
            Loading queues…
          </p>
        )
      ) : queues.length === 0 ? (
        <EmptyState title="No queues yet" testId="queues-empty">
          A queue appears when an app is granted a UID for a user (UIDs page).
        </EmptyState>
      ) : (
        <section className="card">
          <div className="toolbar">
            <div className="field field-inline">
              <label htmlFor="queue-filter">Filter</label>
              <input id="queue-filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="user, app or UID" />
            </div>
            <div className="field field-inline">
              <label htmlFor="queue-sort">Sort by</label>
              <select id="queue-sort" value={sort} onChange={(e) => setSort(e.target.value as SortKey)}>
                <option value="size">Size (largest first)</option>
                <option value="app">App</option>
                <option value="user">User</option>
              </select>
            </div>
            <p className="toolbar-note muted" aria-live="polite">
              {shown.length === queues.length ? `${queues.length} queues` : `${shown.length} of ${queues.length} queues`}
            </p>
          </div>
          {shown.length === 0 ? <EmptyState title="No queue matches this filter" /> : <QueueTable queues={shown} />}
        </section>
      )}
    </>
  );
}
