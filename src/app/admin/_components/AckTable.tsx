import { Timestamp } from '@/app/components/Timestamp.tsx';
import { errnoTable } from '@/shared/errnos';
import type { AckEntry } from '../_connection/rows.ts';

const meaningOf = new Map<number, string>(errnoTable.map((row) => [row.errno, row.meaning]));

/** How many UIDs or tags of an entry to list before "and n more". */
const SHOWN = 3;

function ErrnoCell({ errno }: { errno: number | null }) {
  if (errno === null) return <span className="muted">—</span>;
  return (
    <span className="errno">
      <code>{errno}</code> <span className="errno-meaning">{meaningOf.get(errno) ?? 'refused'}</span>
    </span>
  );
}

/** The first few of an entry's UIDs or tags, each as code (UIDs shortened, with the whole one as title). */
function ShortList({ values, uids = false }: { values: string[]; uids?: boolean }) {
  if (values.length === 0) return <span className="muted">—</span>;
  const more = values.length - SHOWN;
  return (
    <span className="short-list">
      {values.slice(0, SHOWN).map((value) => (
        <code key={value} className={uids ? 'uid uid-short' : undefined} title={uids ? value : undefined}>
          {value}
        </code>
      ))}
      {more > 0 ? <span className="muted">and {more} more</span> : null}
    </span>
  );
}

/** The newest acks and refusals, newest first. */
export function AckTable({ entries }: { entries: AckEntry[] }) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="ack-table">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">App</th>
            <th scope="col">Result</th>
            <th scope="col" className="numeric">
              Items
            </th>
            <th scope="col">UIDs</th>
            <th scope="col">Tags</th>
            <th scope="col" className="numeric">
              Queue size
            </th>
            <th scope="col">Errno</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id} data-testid="ack-row" data-result={entry.result}>
              <td className="nowrap">
                <Timestamp iso={entry.at} />
              </td>
              <td className="nowrap">
                <code>{entry.appId}</code>
              </td>
              <td>
                <span className={`badge ${entry.result === 'OK' ? 'badge-ok' : 'badge-ko'}`}>{entry.result === 'OK' ? 'OK' : 'KO'}</span>
                {entry.kind === 'retract' ? <span className="muted"> retraction</span> : null}
              </td>
              <td className="numeric">{entry.itemCount}</td>
              <td>
                <ShortList values={entry.uids} uids />
              </td>
              <td>
                <ShortList values={entry.tags} />
              </td>
              <td className="numeric">{entry.queueSize ?? <span className="muted">—</span>}</td>
              <td>
                <ErrnoCell errno={entry.errno} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
