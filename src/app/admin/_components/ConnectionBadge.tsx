'use client';
/** Whether the dashboard's live connection is up (it reconnects by itself). */
import { useChannel, useChannelConnected } from '../_channel/ChannelProvider.tsx';

export function ConnectionBadge() {
  const client = useChannel();
  const connected = useChannelConnected();
  const label = connected ? 'Live' : client ? 'Reconnecting…' : 'Connecting…';
  return (
    <span className={`connection ${connected ? 'is-live' : 'is-down'}`} role="status" data-testid="connection-state">
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}
