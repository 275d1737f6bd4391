import type { Metadata } from 'next';
import { QueueDetail } from '../../../_components/QueueDetail.tsx';

export const metadata: Metadata = { title: 'Queue' };

export default async function QueuePage({ params }: { params: Promise<{ uid: string }> }) {
  const { uid } = await params;
  return <QueueDetail uid={uid} />;
}
