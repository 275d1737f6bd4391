import type { Metadata } from 'next';
import { PageHeader } from '@/app/components/PageHeader.tsx';
import { AcksView } from '../../_components/AcksView.tsx';

export const metadata: Metadata = { title: 'Acks' };

export default function AcksPage() {
  return (
    <>
      <PageHeader title="Acks and refusals">What apps sent and what was refused, live. Refusals are logged for authenticated apps only.</PageHeader>
      <AcksView />
    </>
  );
}
