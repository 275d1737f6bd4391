/**
 * `POST /<appid>/retract`: takes back tagged notifications. The same
 * credentials, checks, order and answers as the notification route
 * (notificationRoute.ts runs both); only the body and the ack differ
 * (domain/notifications/retract.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { batchSize } from '../domain/notifications/send.ts';
import { sendRetractions } from '../domain/notifications/retract.ts';
import { handleAppRequest, type AppRouteOperation, type NotificationRouteDeps } from './notificationRoute.ts';

const routePattern = /^\/([^/]+)\/retract$/;

/** The appid if `pathname` is a retract route, else null. */
export function matchRetractRoute(pathname: string): string | null {
  const match = routePattern.exec(pathname);
  return match ? (match[1] as string) : null;
}

const retract: AppRouteOperation = {
  kind: 'retract',
  count: batchSize,
  async run(deps, app, parsed, options) {
    const { ack } = await sendRetractions(deps.db, app, parsed, options);
    return { body: ack, stored: 0 };
  },
};

/** Handles one request to `/<appid>/retract`. Never throws; every outcome is an answer. */
export function handleRetractRequest(deps: NotificationRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  return handleAppRequest(deps, req, res, appid, retract);
}
