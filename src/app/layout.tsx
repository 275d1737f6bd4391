import type { Metadata } from 'next';
import { connection } from 'next/server';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'Presence',
  description: 'Live notifications from applications to the devices of their users.',
};

/**
 * Every page renders per request: the server's Content Security Policy
 * carries a fresh nonce each time, which Next.js puts on its scripts (see
 * src/server/http/securityHeaders.ts); a page built once would carry none.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  await connection();
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
