import type { Metadata } from 'next';
import { PageHeader } from '@/app/components/PageHeader.tsx';
import { TestSendForm } from '../../_components/TestSendForm.tsx';

export const metadata: Metadata = { title: 'Test send' };

export default function TestSendPage() {
  return (
    <>
      <PageHeader title="Test send">
        Send one notification to a user as an app would, through the same checks and queue as <code>POST /&lt;appid&gt;/notification</code>. It is logged in the
        acks.
      </PageHeader>
      <TestSendForm />
    </>
  );
}
