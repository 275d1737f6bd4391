'use client';
/** Adds a user; devices and UIDs are given to it on their own pages. */
import { useState } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useFormAction } from '../_connection/hooks.ts';
import { MAX_NAME_CODE_POINTS } from '@/shared/limits';

export function UserCreateForm({ onCreated }: { onCreated: (created: { userId: string; name: string }) => void }) {
  const [name, setName] = useState('');
  const form = useFormAction(async (client) => {
    const { userId } = await client.admin.users.create.mutate({ name: name.trim() });
    onCreated({ userId, name: name.trim() });
    setName('');
  });

  return (
    <form className="form form-inline" onSubmit={form.onSubmit} aria-label="Create a user">
      <div className="field">
        <label htmlFor="user-name">Name</label>
        <input id="user-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={MAX_NAME_CODE_POINTS} autoComplete="off" />
      </div>
      <button type="submit" className="button button-primary" disabled={!form.ready || form.busy}>
        {form.busy ? 'Creating…' : 'Create user'}
      </button>
      <ErrorAlert message={form.error} />
    </form>
  );
}
