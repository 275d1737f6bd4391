'use client';
import Link from 'next/link';
import { ConfirmButton } from '@/app/components/ConfirmButton.tsx';
import { Timestamp } from '@/app/components/Timestamp.tsx';
import type { UidRow } from '../_connection/rows.ts';
import { queueHref } from './QueueTable.tsx';

/** Every UID given out, with its queue's size; revoking asks first (it deletes the queue). */
export function UidTable({ uids, userName, onRevoke }: { uids: UidRow[]; userName: (userId: string) => string; onRevoke: (row: UidRow) => Promise<void> }) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="uid-table">
        <thead>
          <tr>
            <th scope="col">UID</th>
            <th scope="col">App</th>
            <th scope="col">User</th>
            <th scope="col" className="numeric">
              Queue size
            </th>
            <th scope="col">Granted</th>
            <th scope="col">
              <span className="visually-hidden">Revoke</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {uids.map((row) => (
            <tr key={row.uid} data-testid="uid-row" data-uid={row.uid}>
              <td>
                <code className="uid">{row.uid}</code>
              </td>
              <td className="nowrap">
                <code>{row.appid}</code>
              </td>
              <td>{userName(row.userId)}</td>
              <td className="numeric">
                <Link href={queueHref(row.uid)} aria-label={`Queue of ${row.uid}: ${row.queueSize} items`}>
                  {row.queueSize}
                </Link>
              </td>
              <td className="nowrap">
                <Timestamp iso={row.grantedAt} />
              </td>
              <td className="actions">
                <ConfirmButton
                  label="Revoke"
                  question={`Revoke this UID? Its queue (${row.queueSize} items) is deleted.`}
                  confirmLabel="Yes, revoke"
                  onConfirm={() => onRevoke(row)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
