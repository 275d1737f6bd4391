'use client';
/** Devices, live from `admin.devices.watch`: online state, creation (token shown once), revocation. */
import { useEffect, useState } from 'react';
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { SecretOnce } from '@/app/components/SecretOnce.tsx';
import { useConnection } from '../_connection/ConnectionProvider.tsx';
import { describeCallError } from '../_connection/callErrors.ts';
import { useConnectionQuery, useWatch } from '../_connection/hooks.ts';
import type { DeviceRow } from '../_connection/rows.ts';
import { DeviceCreateForm } from './DeviceCreateForm.tsx';
import { DeviceTable } from './DeviceTable.tsx';

export function DevicesView() {
  const client = useConnection();
  const devices = useWatch<DeviceRow[]>((c, handlers) => c.admin.devices.watch.subscribe(undefined, handlers));
  const users = useConnectionQuery((c) => c.admin.users.list.query());
  const [newToken, setNewToken] = useState<{ name: string; token: string } | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const names = new Map((users.data ?? []).map((u) => [u.userId, u.name]));
  // A device of a user created elsewhere since the list was loaded: load the users again.
  const unknownUser = users.data !== undefined && (devices.data ?? []).some((d) => !names.has(d.userId));
  const reloadUsers = users.reload;
  useEffect(() => {
    if (unknownUser) reloadUsers();
  }, [unknownUser, reloadUsers]);

  async function revoke(device: DeviceRow) {
    if (!client) return;
    setError(null);
    setStatus(null);
    try {
      await client.admin.devices.revoke.mutate({ deviceId: device.deviceId });
      setStatus(`Revoked ${device.name}.`);
    } catch (cause) {
      setError(describeCallError(cause));
    }
  }

  const origin = typeof window === 'undefined' ? '' : window.location.origin;

  return (
    <>
      {newToken ? (
        <SecretOnce title={`Token for ${newToken.name}`} value={newToken.token} onDismiss={() => setNewToken(null)}>
          <p className="hint">
            Save it in a file only you can read and run the daemon with it: <code>npx presence-daemon --server {origin} --token-file &lt;file&gt;</code>, or
            enter it on the <a href="/device">device page</a> of a phone or browser.
          </p>
        </SecretOnce>
      ) : null}

      <section className="card" aria-labelledby="add-device-heading">
        <h2 id="add-device-heading">Add a device</h2>
        <DeviceCreateForm
          users={users.data}
          onCreated={(created) => {
            setNewToken({ name: created.name, token: created.token });
            setStatus(null);
            // Creating a device does not announce a change to `devices.watch`: subscribe again for the fresh list.
            devices.restart();
          }}
        />
      </section>

      <section className="card" aria-labelledby="devices-heading">
        <h2 id="devices-heading">Devices</h2>
        <ErrorAlert message={devices.error ?? users.error ?? error} />
        {status ? (
          <p role="status" className="notice">
            {status}
          </p>
        ) : null}
        {devices.data === undefined ? (
          devices.error ? null : (
            <p className="muted" role="status">
              Loading devices…
            </p>
          )
        ) : devices.data.length === 0 ? (
          <EmptyState title="No devices yet" testId="devices-empty">
            Add one above, then run the daemon with its token.
          </EmptyState>
        ) : (
          <DeviceTable devices={devices.data} userName={(id) => names.get(id) ?? 'unknown user'} onRevoke={revoke} />
        )}
      </section>
    </>
  );
}
