'use client';
import { ConfirmButton } from '@/app/components/ConfirmButton.tsx';
import { Timestamp } from '@/app/components/Timestamp.tsx';
import type { AppRow } from '../_connection/rows.ts';

/** Every app, with a key rotation that asks first (the old key stops working at once). */
export function AppTable({ apps, onRotate }: { apps: AppRow[]; onRotate: (appid: string) => Promise<void> }) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="app-table">
        <thead>
          <tr>
            <th scope="col">App id</th>
            <th scope="col">Name</th>
            <th scope="col">Schemes</th>
            <th scope="col" className="numeric">
              UIDs
            </th>
            <th scope="col">Created</th>
            <th scope="col">
              <span className="visually-hidden">Key</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {apps.map((app) => (
            <tr key={app.appid} data-testid="app-row" data-appid={app.appid}>
              <td className="nowrap">
                <code>{app.appid}</code>
              </td>
              <td>{app.name}</td>
              <td>
                {app.schemes.length ? (
                  <span className="chips">
                    {app.schemes.map((scheme) => (
                      <code key={scheme} className="chip">
                        {scheme}:
                      </code>
                    ))}
                  </span>
                ) : (
                  <span className="muted">http(s) only</span>
                )}
              </td>
              <td className="numeric">{app.uids}</td>
              <td className="nowrap">
                <Timestamp iso={app.createdAt} />
              </td>
              <td className="actions">
                <ConfirmButton
                  label="Rotate key"
                  question={`Replace the key of ${app.appid}? The current key stops working at once.`}
                  confirmLabel="Yes, rotate"
                  onConfirm={() => onRotate(app.appid)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
