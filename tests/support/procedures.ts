/**
 * Calling tRPC procedures without a socket: a context as the channel makes
 * one, and what a refused call was refused with.
 */
import { TRPCError } from '@trpc/server';
import { expect } from 'vitest';
import type { AuthenticatedDevice } from '../../src/server/domain/devices.ts';
import { AppError } from '../../src/server/domain/errors.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { Metrics } from '../../src/server/platform/metrics.ts';
import { Doorbells } from '../../src/server/channel/doorbell.ts';
import type { Context } from '../../src/server/trpc/init.ts';

/** A context from plain inputs: a device for a daemon, a session secret for the dashboard. */
export function procedureContext(db: Database, metrics: Metrics, who: { device?: AuthenticatedDevice; operatorSession?: string } = {}): Context {
  return {
    db,
    doorbells: new Doorbells(),
    metrics,
    device: who.device ?? null,
    daemonSocket: who.device ? { notifications: null, dismissed: [], retracted: [], signallingSecond: 0, signallingCalls: 0 } : null,
    operatorSession: who.operatorSession,
  };
}

/** What a call was refused with: its tRPC code and, for a domain refusal, its errno. */
export async function refusal(call: Promise<unknown>): Promise<{ code: string; errno?: number }> {
  const error = await call.then(
    () => null,
    (cause: unknown) => cause,
  );
  expect(error).toBeInstanceOf(TRPCError);
  const { code, cause } = error as TRPCError;
  return cause instanceof AppError ? { code, errno: cause.errno } : { code };
}
