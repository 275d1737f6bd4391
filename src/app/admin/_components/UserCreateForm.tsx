'use client';
/** Adds a user; devices and UIDs are given to it on their own pages. */
import { useState, type FormEvent } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useChannel } from '../_channel/ChannelProvider.tsx';
import { describeChannelError } from '../_channel/channelErrors.ts';

export function UserCreateForm({ onCreated }: { onCreated: (created: { userId: string; name: string }) => void }) {
  const client = useChannel();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!client) return;
    setBusy(true);
    setError(null);
    try {
      const { userId } = await client.admin.users.create.mutate({ name: name.trim() });
      onCreated({ userId, name: name.trim() });
      setName('');
    } catch (cause) {
      setError(describeChannelError(cause));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form form-inline" onSubmit={(e) => void create(e)} aria-label="Create a user">
      <div className="field">
        <label htmlFor="user-name">Name</label>
        <input id="user-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} autoComplete="off" />
      </div>
      <button type="submit" className="button button-primary" disabled={!client || busy}>
        {busy ? 'Creating…' : 'Create user'}
      </button>
      <ErrorAlert message={error} />
    </form>
  );
}
