'use client';
/** Users: the list and creation. */
import Link from 'next/link';
import { useState } from 'react';
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useConnectionQuery } from '../_connection/hooks.ts';
import { UserCreateForm } from './UserCreateForm.tsx';
import { UserTable } from './UserTable.tsx';

export function UsersView() {
  const users = useConnectionQuery((c) => c.admin.users.list.query());
  const [created, setCreated] = useState<{ userId: string; name: string } | null>(null);

  return (
    <>
      <section className="card" aria-labelledby="create-user-heading">
        <h2 id="create-user-heading">Create a user</h2>
        <UserCreateForm
          onCreated={(user) => {
            setCreated(user);
            users.reload();
          }}
        />
        {created ? (
          <p role="status" className="notice" data-testid="user-created">
            Created {created.name} (<code>{created.userId}</code>). Next: give it a <Link href="/admin/devices">device</Link> and{' '}
            <Link href="/admin/uids">UIDs</Link>.
          </p>
        ) : null}
      </section>

      <section className="card" aria-labelledby="users-heading">
        <h2 id="users-heading">Users</h2>
        <ErrorAlert message={users.error} />
        {users.data === undefined ? (
          users.error ? null : (
            <p className="muted" role="status">
              Loading users…
            </p>
          )
        ) : users.data.length === 0 ? (
          <EmptyState title="No users yet">Create one above.</EmptyState>
        ) : (
          <UserTable users={users.data} />
        )}
      </section>
    </>
  );
}
