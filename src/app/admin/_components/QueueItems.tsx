import { Timestamp } from '@/app/components/Timestamp.tsx';
import type { QueueItemRow } from '../_connection/rows.ts';

/**
 * The items of one queue, oldest first. Messages and actions are what apps
 * sent: shown as text only, never as markup or live links.
 */
export function QueueItems({ items }: { items: QueueItemRow[] }) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="queue-items">
        <thead>
          <tr>
            <th scope="col" className="numeric">
              #
            </th>
            <th scope="col">Message</th>
            <th scope="col">Tag</th>
            <th scope="col">Action</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item, index) => (
            <tr key={item.id} data-testid="queue-item">
              <td className="numeric muted">{index + 1}</td>
              <td className="message">{item.message}</td>
              <td className="nowrap">{item.tag !== null ? <code>{item.tag}</code> : <span className="muted">—</span>}</td>
              <td>
                <code className="action">{item.action}</code>
              </td>
              <td className="nowrap">
                <Timestamp iso={item.createdAt} />
              </td>
              <td className="nowrap">
                <Timestamp iso={item.expiresAt} empty="never" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
