/**
 * The two ways wake-ups travel between nodes: PostgreSQL NOTIFY (the
 * default) and the NATS bus (PRESENCE_BUS). Tests of delivery run in both:
 * `describe.each(BUS_MODES)` with {@link useBusMode} in the block.
 */
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsServer } from './natsServer.ts';

export const BUS_MODES = [{ mode: 'notify' as const }, { mode: 'nats' as const }];
export type BusMode = (typeof BUS_MODES)[number]['mode'];

export interface BusUnderTest {
  /** The settings a node of this mode gets (PRESENCE_BUS in the NATS mode). */
  env(): Record<string, string>;
  /** The NATS server of the NATS mode (for outages); throws in the NOTIFY mode. */
  nats(): NatsServer;
}

/** In the NATS mode, starts a nats-server of its own before the block's tests (before its nodes) and stops it after. */
export function useBusMode(mode: BusMode): BusUnderTest {
  let server: NatsServer | null = null;
  if (mode === 'nats') {
    beforeAll(async () => {
      server = await startNatsServer();
    });
    afterAll(async () => {
      await server?.stop();
    });
  }
  return {
    env: (): Record<string, string> => (server ? { PRESENCE_BUS: server.url } : {}),
    nats: () => {
      if (!server) throw new Error('no NATS server in this mode');
      return server;
    },
  };
}
