import type { Metadata } from 'next';
import { PageHeader } from '@/app/components/PageHeader.tsx';
import { UsersView } from '../../_components/UsersView.tsx';

export const metadata: Metadata = { title: 'Users' };

export default function UsersPage() {
  return (
    <>
      <PageHeader title="Users">The people notifications are for. Apps never see them, only the UID each app was given.</PageHeader>
      <UsersView />
    </>
  );
}
