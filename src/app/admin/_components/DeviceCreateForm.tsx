'use client';
/** Registers a device for a user; its token comes back once, for the caller to show. */
import { useState } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useFormAction } from '../_connection/hooks.ts';
import type { UserRow } from '../_connection/rows.ts';
import { ChoiceSelect } from './ChoiceSelect.tsx';
import { MAX_NAME_CODE_POINTS } from '@/shared/limits';

export function DeviceCreateForm({
  users,
  onCreated,
}: {
  users: UserRow[] | undefined;
  onCreated: (created: { deviceId: string; token: string; name: string }) => void;
}) {
  const [userId, setUserId] = useState('');
  const [name, setName] = useState('');
  const form = useFormAction(async (client) => {
    const deviceName = name.trim() || 'device';
    const created = await client.admin.devices.create.mutate({ userId, name: deviceName });
    setName('');
    onCreated({ ...created, name: deviceName });
  });

  return (
    <form className="form" onSubmit={form.onSubmit} aria-label="Add a device">
      <div className="form-row">
        <ChoiceSelect
          id="device-user"
          label="User"
          value={userId}
          onChange={setUserId}
          noun="user"
          article="a"
          choices={users?.map((u) => ({ value: u.userId, label: u.name }))}
        />
        <div className="field">
          <label htmlFor="device-name">Device name</label>
          <input
            id="device-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            maxLength={MAX_NAME_CODE_POINTS}
            placeholder="laptop"
            autoComplete="off"
          />
        </div>
      </div>
      <ErrorAlert message={form.error} />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!form.ready || form.busy}>
          {form.busy ? 'Adding…' : 'Add device'}
        </button>
      </div>
    </form>
  );
}
