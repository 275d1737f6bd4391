import type { Metadata } from 'next';
import Link from 'next/link';
import { CardPage } from '@/app/components/CardPage.tsx';

export const metadata: Metadata = { title: 'Not found · Presence' };

/** Our own 404 page: Next.js's default one carries an inline style element, which the pages' policy refuses. */
export default function NotFound() {
  return (
    <CardPage title="Page not found">
      <p className="lead">There is nothing at this address.</p>
      <Link href="/">Go to the start page</Link>
    </CardPage>
  );
}
