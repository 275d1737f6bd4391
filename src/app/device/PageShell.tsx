import type { ReactNode } from 'react';
import styles from './device.module.css';

/** The frame of every state of the page: the brand, and `status` on the right. */
export function PageShell({ status, children }: { status?: ReactNode; children: ReactNode }) {
  return (
    <main className={styles.page}>
      <header className={styles.header}>
        <span className={styles.brand}>
          <span className={styles.logo} aria-hidden="true" />
          Presence
        </span>
        {status}
      </header>
      {children}
    </main>
  );
}
