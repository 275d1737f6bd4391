'use client';
/**
 * One queue: who and which app it is for, its live size, its items oldest
 * first (fetched again whenever the queues change), and a purge.
 */
import Link from 'next/link';
import { useState } from 'react';
import { ConfirmButton } from '@/app/components/ConfirmButton.tsx';
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useConnection } from '../_connection/ConnectionProvider.tsx';
import { describeCallError } from '../_connection/callErrors.ts';
import { useConnectionQuery, useWatch } from '../_connection/hooks.ts';
import type { QueueRow } from '../_connection/rows.ts';
import { QueueItems } from './QueueItems.tsx';
import { QueueSize } from './QueueTable.tsx';

export function QueueDetail({ uid }: { uid: string }) {
  const client = useConnection();
  const [revision, setRevision] = useState(0);
  const queues = useWatch<QueueRow[]>((c, handlers) =>
    c.admin.queues.watch.subscribe(undefined, {
      onData: (value) => {
        handlers.onData(value);
        setRevision((r) => r + 1);
      },
      onError: handlers.onError,
    }),
  );
  const items = useConnectionQuery((c) => c.admin.queues.items.query({ uid }), `${uid}:${revision}`);
  const [purgeError, setPurgeError] = useState<string | null>(null);
  const [purged, setPurged] = useState<number | null>(null);

  const queue = queues.data?.find((q) => q.uid === uid);

  async function purge() {
    if (!client) return;
    setPurgeError(null);
    setPurged(null);
    try {
      const { removed } = await client.admin.queues.purge.mutate({ uid });
      setPurged(removed);
    } catch (error) {
      setPurgeError(describeCallError(error));
    }
  }

  const back = (
    <p className="breadcrumb">
      <Link href="/admin">← All queues</Link>
    </p>
  );

  if (queues.data && !queue) {
    return (
      <>
        {back}
        <h1>Queue</h1>
        <EmptyState title="No such queue" testId="queue-missing">
          There is no queue for the UID <code>{uid}</code>: it was never granted or has been revoked.
        </EmptyState>
      </>
    );
  }

  return (
    <>
      {back}
      <header className="page-header page-header-split">
        <div>
          <h1>{queue ? `${queue.userName} · ${queue.appId}` : 'Queue'}</h1>
          <p className="lead">
            UID <code className="uid">{uid}</code>
          </p>
        </div>
        {queue ? (
          <div className="page-header-side">
            <span className="muted">Size</span> <QueueSize size={queue.size} />
          </div>
        ) : null}
      </header>

      <ErrorAlert message={queues.error ?? items.error} />

      <section className="card" aria-labelledby="items-heading">
        <div className="card-header">
          <h2 id="items-heading">Items, oldest first</h2>
          {queue && queue.size > 0 ? (
            <ConfirmButton
              label="Purge queue"
              question={`Delete all ${queue.size} items of this queue?`}
              confirmLabel="Yes, purge"
              onConfirm={purge}
              disabled={!client}
            />
          ) : null}
        </div>
        <ErrorAlert message={purgeError} />
        {purged !== null ? (
          <p role="status" className="notice">
            Purged: {purged} {purged === 1 ? 'item' : 'items'} removed.
          </p>
        ) : null}
        {items.data === undefined ? (
          items.error ? null : (
            <p className="muted" role="status">
              Loading items…
            </p>
          )
        ) : items.data.length === 0 ? (
          <EmptyState title="This queue is empty" testId="queue-items-empty">
            Items appear here when the app sends one, and leave when a device of the user acknowledges it.
          </EmptyState>
        ) : (
          <QueueItems items={items.data} />
        )}
      </section>
    </>
  );
}
