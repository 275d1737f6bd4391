import type { Metadata } from 'next';
import { PageHeader } from '@/app/components/PageHeader.tsx';
import { UidsView } from '../../_components/UidsView.tsx';

export const metadata: Metadata = { title: 'UIDs' };

export default function UidsPage() {
  return (
    <>
      <PageHeader title="UIDs">
        The id each app has for each of its users: one per app and user, meaningless to any other app. Revoking deletes the queue.
      </PageHeader>
      <UidsView />
    </>
  );
}
