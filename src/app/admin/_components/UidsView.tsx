'use client';
/**
 * UIDs: the list (loaded again whenever `admin.queues.watch` reports a change,
 * which grants, revokes and sends all cause), a grant form and revocation.
 */
import { useState } from 'react';
import { CopyButton } from '@/app/components/CopyButton.tsx';
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useConnection } from '../_connection/ConnectionProvider.tsx';
import { describeCallError } from '../_connection/callErrors.ts';
import { useConnectionQuery, useWatch } from '../_connection/hooks.ts';
import type { UidRow } from '../_connection/rows.ts';
import { UidGrantForm } from './UidGrantForm.tsx';
import { UidTable } from './UidTable.tsx';

export function UidsView() {
  const client = useConnection();
  const [revision, setRevision] = useState(0);
  const changes = useWatch<unknown>((c, handlers) =>
    c.admin.queues.watch.subscribe(undefined, { onData: () => setRevision((r) => r + 1), onError: handlers.onError }),
  );
  const [appFilter, setAppFilter] = useState('');
  const uids = useConnectionQuery((c) => c.admin.uids.list.query(appFilter ? { appid: appFilter } : {}), `${appFilter}:${revision}`);
  const apps = useConnectionQuery((c) => c.admin.apps.list.query());
  const users = useConnectionQuery((c) => c.admin.users.list.query());
  const [granted, setGranted] = useState<{ uid: string; appid: string; userName: string } | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const names = new Map((users.data ?? []).map((u) => [u.userId, u.name]));

  async function revoke(row: UidRow) {
    if (!client) return;
    setError(null);
    setStatus(null);
    try {
      await client.admin.uids.revoke.mutate({ uid: row.uid });
      setStatus(`Revoked the ${row.appid} UID of ${names.get(row.userId) ?? 'the user'}; its queue is gone.`);
      if (granted?.uid === row.uid) setGranted(null);
    } catch (cause) {
      setError(describeCallError(cause));
    }
  }

  return (
    <>
      <section className="card" aria-labelledby="grant-heading">
        <h2 id="grant-heading">Grant a UID</h2>
        <UidGrantForm
          apps={apps.data}
          users={users.data}
          onGranted={(g) => {
            setGranted(g);
            setStatus(null);
            uids.reload();
          }}
        />
        {granted ? (
          <div role="status" className="notice granted" aria-label="Granted UID">
            <p>
              The UID of {granted.userName} for <code>{granted.appid}</code>; the app sends to it:
            </p>
            <div className="secret-once-value">
              <code data-testid="granted-uid">{granted.uid}</code>
              <CopyButton value={granted.uid} />
            </div>
          </div>
        ) : null}
      </section>

      <section className="card" aria-labelledby="uids-heading">
        <div className="card-header">
          <h2 id="uids-heading">UIDs</h2>
          <div className="field field-inline">
            <label htmlFor="uid-app-filter">App</label>
            <select id="uid-app-filter" value={appFilter} onChange={(e) => setAppFilter(e.target.value)}>
              <option value="">All apps</option>
              {(apps.data ?? []).map((app) => (
                <option key={app.appid} value={app.appid}>
                  {app.appid}
                </option>
              ))}
            </select>
          </div>
        </div>
        <ErrorAlert message={changes.error ?? uids.error ?? apps.error ?? users.error ?? error} />
        {status ? (
          <p role="status" className="notice">
            {status}
          </p>
        ) : null}
        {uids.data === undefined ? (
          uids.error ? null : (
            <p className="muted" role="status">
              Loading UIDs…
            </p>
          )
        ) : uids.data.length === 0 ? (
          <EmptyState title={appFilter ? `No UIDs for ${appFilter}` : 'No UIDs yet'}>Grant one above: pick an app and a user.</EmptyState>
        ) : (
          <UidTable uids={uids.data} userName={(id) => names.get(id) ?? 'unknown user'} onRevoke={revoke} />
        )}
      </section>
    </>
  );
}
