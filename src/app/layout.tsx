import type { Metadata, Viewport } from 'next';
import { connection } from 'next/server';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'Presence',
  description: 'Live notifications from applications to the devices of their users.',
  // Installed to a phone's home screen, the device page opens as its own app (src/app/manifest.ts).
  appleWebApp: { capable: true, title: 'Presence', statusBarStyle: 'default' },
};

/** --accent of globals.css: the colour of the browser's bar around an installed page. */
export const viewport: Viewport = { themeColor: '#2f6fed' };

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
