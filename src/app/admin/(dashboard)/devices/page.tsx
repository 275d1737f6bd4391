import type { Metadata } from 'next';
import { PageHeader } from '@/app/components/PageHeader.tsx';
import { DevicesView } from '../../_components/DevicesView.tsx';

export const metadata: Metadata = { title: 'Devices' };

export default function DevicesPage() {
  return (
    <>
      <PageHeader title="Devices">Where users receive notifications: each runs a daemon with its own token. Online states update live.</PageHeader>
      <DevicesView />
    </>
  );
}
