/**
 * What the dashboard's procedures return, derived from the router so a
 * changed procedure fails the type check here instead of at run time.
 */
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@/server/trpc/routers/_app';

type AdminOutputs = inferRouterOutputs<AppRouter>['admin'];

/** What a `watch` subscription sends each time. */
type Sent<T> = T extends AsyncIterable<infer Value> ? Value : never;

/** One (user, app) queue with its size, from `admin.queues.watch`. */
export type QueueRow = Sent<AdminOutputs['queues']['watch']>[number];
/** One item of a queue, from `admin.queues.items`. */
export type QueueItemRow = AdminOutputs['queues']['items'][number];

/** The ack log's latest entries and per-minute counts, from `admin.acks.watch`. */
export type AckActivity = Sent<AdminOutputs['acks']['watch']>;
export type AckEntry = AckActivity['entries'][number];
export type MinuteCount = AckActivity['perMinute'][number];

/** A test send's answer: the ack, or the refusal an app would get. */
export type TestSendResult = AdminOutputs['testSend'];
export type TestSendAck = Extract<TestSendResult, { result: 'OK' }>;
export type TestSendRefusal = Extract<TestSendResult, { result: 'KO' }>;

export type AppRow = AdminOutputs['apps']['list'][number];
/** A new app's id and key (the key is shown once). */
export type CreatedApp = AdminOutputs['apps']['create'];
export type UserRow = AdminOutputs['users']['list'][number];
export type DeviceRow = Sent<AdminOutputs['devices']['watch']>[number];
export type UidRow = AdminOutputs['uids']['list'][number];
