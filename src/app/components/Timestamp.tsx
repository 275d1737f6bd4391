'use client';
/** A point in time: the local date and time, with the ISO form as a tooltip. */
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function Timestamp({ iso, empty = '—', timeOnly: onlyTime = false }: { iso: string | null | undefined; empty?: string; timeOnly?: boolean }) {
  if (!iso) return <span className="muted">{empty}</span>;
  const date = new Date(iso);
  return (
    <time dateTime={iso} title={iso}>
      {(onlyTime ? timeOnly : dateTime).format(date)}
    </time>
  );
}
