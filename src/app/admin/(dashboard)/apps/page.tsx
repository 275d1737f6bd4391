import type { Metadata } from 'next';
import { PageHeader } from '@/app/components/PageHeader.tsx';
import { AppsView } from '../../_components/AppsView.tsx';

export const metadata: Metadata = { title: 'Apps' };

export default function AppsPage() {
  return (
    <>
      <PageHeader title="Apps">The applications that send notifications, each with its key and the deep-link schemes it may use.</PageHeader>
      <AppsView />
    </>
  );
}
