import type { ReactNode } from 'react';

/** What a list shows when it has nothing in it: what that means and what to do next. */
export function EmptyState({ title, children, testId }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="empty-state" data-testid={testId}>
      <p className="empty-state-title">{title}</p>
      {children ? <p className="empty-state-hint">{children}</p> : null}
    </div>
  );
}
