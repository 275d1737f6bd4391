'use client';
/**
 * The dashboard's one connection to the server: opened once by the dashboard
 * layout, shared by every page through context, closed when the layout goes.
 */
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { openChannelClient, type ChannelClient } from '@/app/lib/channelClient';

interface ConnectionState {
  /** Null until the layout has mounted in the browser. */
  client: ChannelClient | null;
  /** Whether the WebSocket is open right now (it reconnects by itself). */
  connected: boolean;
}

const ConnectionContext = createContext<ConnectionState>({ client: null, connected: false });

export function ConnectionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<ConnectionState>({ client: null, connected: false });

  useEffect(() => {
    const channel = openChannelClient({ onConnectionChange: (connected) => setState((s) => ({ ...s, connected })) });
    setState((s) => ({ ...s, client: channel.client }));
    return () => {
      void channel.close();
      setState({ client: null, connected: false });
    };
  }, []);

  return <ConnectionContext.Provider value={state}>{children}</ConnectionContext.Provider>;
}

/** The shared client, or null before the layout mounted. */
export function useConnection(): ChannelClient | null {
  return useContext(ConnectionContext).client;
}

export function useConnected(): boolean {
  return useContext(ConnectionContext).connected;
}
