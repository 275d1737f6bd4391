'use client';
/** Whether the dashboard's live connection is up (it reconnects by itself). */
import { useConnection, useConnected } from '../_connection/ConnectionProvider.tsx';

export function ConnectionBadge() {
  const client = useConnection();
  const connected = useConnected();
  const label = connected ? 'Live' : client ? 'Reconnecting…' : 'Connecting…';
  return (
    <span className={`connection ${connected ? 'is-live' : 'is-down'}`} role="status" data-testid="connection-state">
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}
