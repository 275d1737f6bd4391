import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { ConnectionProvider } from '../_connection/ConnectionProvider.tsx';
import { AdminNav } from '../_components/AdminNav.tsx';
import { ConnectionBadge } from '../_components/ConnectionBadge.tsx';

export const metadata: Metadata = { title: { template: '%s · Presence admin', default: 'Presence admin' } };

/**
 * The signed-in dashboard: navigation, the live-connection state, sign-out
 * (here or everywhere), and the one channel connection every page shares.
 * The custom server has already checked the session before any of these
 * pages is served.
 */
export default function DashboardLayout({ children }: { children: ReactNode }) {
  return (
    <ConnectionProvider>
      <div className="admin">
        <header className="admin-header">
          <div className="admin-header-inner">
            <Link href="/admin" className="brand">
              <span className="brand-mark" aria-hidden="true" />
              Presence
            </Link>
            <AdminNav />
            <div className="admin-header-end">
              <ConnectionBadge />
              <form method="post" action="/admin/logout">
                <button type="submit" className="button button-quiet">
                  Sign out
                </button>
              </form>
              {/* Ends every operator session, on every node: open dashboards go to the sign-in page. */}
              <form method="post" action="/admin/logout-everywhere">
                <button type="submit" className="button button-quiet" title="End every operator session, in every browser">
                  Sign out everywhere
                </button>
              </form>
            </div>
          </div>
        </header>
        <main className="admin-main">{children}</main>
      </div>
    </ConnectionProvider>
  );
}
