'use client';
import type { ReactNode } from 'react';
import { CopyButton } from './CopyButton.tsx';

/**
 * A secret the server shows this once (an app key, a device token): clearly
 * marked, selectable, with a copy button. The server keeps only its digest.
 */
export function SecretOnce({ title, value, onDismiss, children }: { title: string; value: string; onDismiss?: () => void; children?: ReactNode }) {
  return (
    <section className="secret-once" aria-label={title} data-testid="secret-once">
      <h3>{title}</h3>
      <p className="secret-once-warning">
        <strong>Copy it now; it will not be shown again.</strong> Presence stores only a digest of it.
      </p>
      <div className="secret-once-value">
        <code data-testid="secret-value">{value}</code>
        <CopyButton value={value} />
      </div>
      {children}
      {onDismiss ? (
        <button type="button" className="button button-quiet" onClick={onDismiss}>
          I have copied it
        </button>
      ) : null}
    </section>
  );
}
