'use client';
/** Grants an app a UID for a user (the same UID again while one is active). */
import { useState } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useFormAction } from '../_connection/hooks.ts';
import type { AppRow, UserRow } from '../_connection/rows.ts';
import { ChoiceSelect } from './ChoiceSelect.tsx';

export function UidGrantForm({
  apps,
  users,
  onGranted,
}: {
  apps: AppRow[] | undefined;
  users: UserRow[] | undefined;
  onGranted: (granted: { uid: string; appid: string; userName: string }) => void;
}) {
  const [appid, setAppid] = useState('');
  const [userId, setUserId] = useState('');
  const form = useFormAction(async (client) => {
    const { uid } = await client.admin.uids.grant.mutate({ appid, userId });
    onGranted({ uid, appid, userName: users?.find((u) => u.userId === userId)?.name ?? 'the user' });
  });

  return (
    <form className="form" onSubmit={form.onSubmit} aria-label="Grant a UID">
      <div className="form-row">
        <ChoiceSelect
          id="grant-app"
          label="App"
          value={appid}
          onChange={setAppid}
          noun="app"
          article="an"
          choices={apps?.map((a) => ({ value: a.appid, label: a.appid }))}
        />
        <ChoiceSelect
          id="grant-user"
          label="User"
          value={userId}
          onChange={setUserId}
          noun="user"
          article="a"
          choices={users?.map((u) => ({ value: u.userId, label: u.name }))}
        />
      </div>
      <ErrorAlert message={form.error} />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!form.ready || form.busy}>
          {form.busy ? 'Granting…' : 'Grant UID'}
        </button>
      </div>
    </form>
  );
}
