'use client';
import { ConfirmButton } from '@/app/components/ConfirmButton.tsx';
import { Timestamp } from '@/app/components/Timestamp.tsx';
import type { AppRow } from '../_connection/rows.ts';
import { AppRedirectUris } from './AppRedirectUris.tsx';

/** Every app, with its redirect URIs (editable) and a key rotation that asks first (the old key stops working at once). */
export function AppTable({ apps, onRotate, onChanged }: { apps: AppRow[]; onRotate: (appid: string) => Promise<void>; onChanged: () => void }) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="app-table">
        <thead>
          <tr>
            <th scope="col">App id</th>
            <th scope="col">Name</th>
            <th scope="col">Schemes</th>
            <th scope="col">Redirect URIs</th>
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
              <td>
                <AppRedirectUris appid={app.appid} uris={app.redirectUris} onSaved={onChanged} />
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
