'use client';
/** Registers a device for a user; its token comes back once, for the caller to show. */
import { useState, type FormEvent } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useChannel } from '../_channel/ChannelProvider.tsx';
import { describeChannelError } from '../_channel/channelErrors.ts';
import type { UserRow } from './UserTable.tsx';

export function DeviceCreateForm({ users, onCreated }: { users: UserRow[] | undefined; onCreated: (created: { deviceId: string; token: string; name: string }) => void }) {
  const client = useChannel();
  const [userId, setUserId] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!client) return;
    setBusy(true);
    setError(null);
    try {
      const deviceName = name.trim() || 'device';
      const created = await client.admin.devices.create.mutate({ userId, name: deviceName });
      setName('');
      onCreated({ ...created, name: deviceName });
    } catch (cause) {
      setError(describeChannelError(cause));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={(e) => void create(e)} aria-label="Add a device">
      <div className="form-row">
        <div className="field">
          <label htmlFor="device-user">User</label>
          <select id="device-user" value={userId} onChange={(e) => setUserId(e.target.value)} required>
            <option value="">{users ? (users.length ? 'Choose a user' : 'No users yet') : 'Loading users…'}</option>
            {(users ?? []).map((user) => (
              <option key={user.userId} value={user.userId}>
                {user.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="device-name">Device name</label>
          <input id="device-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} placeholder="laptop" autoComplete="off" />
        </div>
      </div>
      <ErrorAlert message={error} />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!client || busy}>
          {busy ? 'Adding…' : 'Add device'}
        </button>
      </div>
    </form>
  );
}
