'use client';
/** Apps: the list, creation, and key rotation; a new key is shown once. */
import { useState } from 'react';
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { SecretOnce } from '@/app/components/SecretOnce.tsx';
import { useConnection } from '../_connection/ConnectionProvider.tsx';
import { describeCallError } from '../_connection/callErrors.ts';
import { useConnectionQuery } from '../_connection/hooks.ts';
import { AppCreateForm } from './AppCreateForm.tsx';
import { AppTable } from './AppTable.tsx';

export function AppsView() {
  const client = useConnection();
  const apps = useConnectionQuery((c) => c.admin.apps.list.query());
  const [newKey, setNewKey] = useState<{ appid: string; key: string; rotated: boolean } | null>(null);
  const [rotateError, setRotateError] = useState<string | null>(null);

  async function rotate(appid: string) {
    if (!client) return;
    setRotateError(null);
    try {
      const { key } = await client.admin.apps.rotateKey.mutate({ appid });
      setNewKey({ appid, key, rotated: true });
    } catch (error) {
      setRotateError(describeCallError(error));
    }
  }

  return (
    <>
      {newKey ? (
        <SecretOnce
          title={newKey.rotated ? `New key for ${newKey.appid}` : `Key for the new app ${newKey.appid}`}
          value={newKey.key}
          onDismiss={() => setNewKey(null)}
        >
          <p className="hint">
            The app sends with <code>Authorization: Bearer &lt;key&gt;</code> to <code>POST /{newKey.appid}/notification</code>.
            {newKey.rotated ? ' The previous key no longer works.' : ''}
          </p>
        </SecretOnce>
      ) : null}

      <section className="card" aria-labelledby="create-app-heading">
        <h2 id="create-app-heading">Create an app</h2>
        <AppCreateForm
          onCreated={(created) => {
            setNewKey({ ...created, rotated: false });
            apps.reload();
          }}
        />
      </section>

      <section className="card" aria-labelledby="apps-heading">
        <h2 id="apps-heading">Apps</h2>
        <ErrorAlert message={apps.error ?? rotateError} />
        {apps.data === undefined ? (
          apps.error ? null : (
            <p className="muted" role="status">
              Loading apps…
            </p>
          )
        ) : apps.data.length === 0 ? (
          <EmptyState title="No apps yet">Create one above; its key is shown once.</EmptyState>
        ) : (
          <AppTable apps={apps.data} onRotate={rotate} onChanged={apps.reload} />
        )}
      </section>
    </>
  );
}
