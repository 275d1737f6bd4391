'use client';
/** Grants an app a UID for a user (the same UID again while one is active). */
import { useState, type FormEvent } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useChannel } from '../_channel/ChannelProvider.tsx';
import { describeChannelError } from '../_channel/channelErrors.ts';
import type { AppRow } from './AppTable.tsx';
import type { UserRow } from './UserTable.tsx';

export function UidGrantForm({
  apps,
  users,
  onGranted,
}: {
  apps: AppRow[] | undefined;
  users: UserRow[] | undefined;
  onGranted: (granted: { uid: string; appid: string; userName: string }) => void;
}) {
  const client = useChannel();
  const [appid, setAppid] = useState('');
  const [userId, setUserId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function grant(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!client) return;
    setBusy(true);
    setError(null);
    try {
      const { uid } = await client.admin.uids.grant.mutate({ appid, userId });
      onGranted({ uid, appid, userName: users?.find((u) => u.userId === userId)?.name ?? 'the user' });
    } catch (cause) {
      setError(describeChannelError(cause));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={(e) => void grant(e)} aria-label="Grant a UID">
      <div className="form-row">
        <div className="field">
          <label htmlFor="grant-app">App</label>
          <select id="grant-app" value={appid} onChange={(e) => setAppid(e.target.value)} required>
            <option value="">{apps ? (apps.length ? 'Choose an app' : 'No apps yet') : 'Loading apps…'}</option>
            {(apps ?? []).map((app) => (
              <option key={app.appid} value={app.appid}>
                {app.appid}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="grant-user">User</label>
          <select id="grant-user" value={userId} onChange={(e) => setUserId(e.target.value)} required>
            <option value="">{users ? (users.length ? 'Choose a user' : 'No users yet') : 'Loading users…'}</option>
            {(users ?? []).map((user) => (
              <option key={user.userId} value={user.userId}>
                {user.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorAlert message={error} />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!client || busy}>
          {busy ? 'Granting…' : 'Grant UID'}
        </button>
      </div>
    </form>
  );
}
