import type { ReactNode } from 'react';

/** A page that is one card under the brand: the sign-in page and the 404 page. */
export function CardPage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="login">
      <div className="login-card">
        <p className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Presence
        </p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
