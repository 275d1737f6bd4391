import type { Metadata } from 'next';
import { PageHeader } from '@/app/components/PageHeader.tsx';
import { QueuesView } from '../_components/QueuesView.tsx';

export const metadata: Metadata = { title: 'Queues' };

export default function QueuesPage() {
  return (
    <>
      <PageHeader title="Queues">One queue per user and app, holding what the user&rsquo;s devices have not received yet. Sizes update live.</PageHeader>
      <QueuesView />
    </>
  );
}
