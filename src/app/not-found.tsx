import type { Metadata } from 'next';
import Link from 'next/link';

export const metadata: Metadata = { title: 'Not found · Presence' };

/** Our own 404 page: Next.js's default one carries an inline style element, which the pages' policy refuses. */
export default function NotFound() {
  return (
    <main className="login">
      <div className="login-card">
        <p className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Presence
        </p>
        <h1>Page not found</h1>
        <p className="lead">There is nothing at this address.</p>
        <Link href="/">Go to the start page</Link>
      </div>
    </main>
  );
}
