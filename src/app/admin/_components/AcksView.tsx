'use client';
/** The ack log, live from `admin.acks.watch`: a per-minute chart and the latest entries. */
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useWatch } from '../_connection/hooks.ts';
import type { AckActivity } from '../_connection/rows.ts';
import { AckChart } from './AckChart.tsx';
import { AckTable } from './AckTable.tsx';

export function AcksView() {
  const { data, error } = useWatch<AckActivity>((client, handlers) => client.admin.acks.watch.subscribe(undefined, handlers));

  if (data === undefined) {
    return error ? (
      <ErrorAlert message={error} />
    ) : (
      <p className="muted" role="status">
        Loading the ack log…
      </p>
    );
  }
  return (
    <>
      <ErrorAlert message={error} />
      <section className="card" aria-labelledby="per-minute-heading">
        <h2 id="per-minute-heading">Last {data.perMinute.length} minutes</h2>
        <AckChart perMinute={data.perMinute} />
      </section>
      <section className="card" aria-labelledby="latest-heading">
        <h2 id="latest-heading">Latest entries {data.entries.length > 0 ? <span className="muted">({data.entries.length}, newest first)</span> : null}</h2>
        {data.entries.length === 0 ? (
          <EmptyState title="No acks or refusals yet" testId="acks-empty">
            Every POST of an app (and every test send) is logged here: its ack, or the refusal with its errno.
          </EmptyState>
        ) : (
          <AckTable entries={data.entries} />
        )}
      </section>
    </>
  );
}
