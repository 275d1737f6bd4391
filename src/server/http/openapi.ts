/**
 * `GET /openapi.json`: the OpenAPI 3.1 description of the REST routes
 * (README.md, "Sending notifications"), built once per process from the zod
 * schemas of the bodies, the errno table of src/shared/errnos.ts and the
 * limits of src/shared/limits.ts, so that the document cannot drift from them.
 * The page /docs (src/app/docs/) renders it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { notificationSchema } from '../domain/notifications/validate.ts';
import { retractAckSchema, retractionSchema, retractRequestSchema } from '../domain/notifications/retract.ts';
import { grantTokenAnswerSchema, grantTokenRequestSchema } from './grantTokenRoute.ts';
import { errnoTable, Errno } from '../../shared/errnos.ts';
import { MAX_ITEMS_PER_BATCH, MAX_LISTED_ERRORS, MAX_RETRACTIONS_PER_REQUEST } from '../../shared/limits.ts';

export const OPENAPI_PATH = '/openapi.json';

/** The appid, UID and key the examples show; a test swaps in real ones. */
export const EXAMPLE_APPID = 'demo';
export const EXAMPLE_UID = 'u_7Jq2VtE9yXkA';
export const EXAMPLE_KEY = 'prs_app_<your key>';
/** The grant code the exchange's examples show; a test swaps in a real one. */
export const EXAMPLE_GRANT_CODE = 'Xq3v9Lw2_example-grant-code';

/** The body of `POST /{appid}/notification`: one notification or a list of them. */
export const notificationBatchSchema = z
  .union([notificationSchema, z.array(notificationSchema).min(1).max(MAX_ITEMS_PER_BATCH)])
  .meta({ description: `one notification, or a list of 1 to ${MAX_ITEMS_PER_BATCH}` });

const queueSizes = z.record(z.string(), z.int().min(0)).meta({ description: 'the size of every queue the request touched, by UID' });

export const ackSchema = z
  .strictObject({
    result: z.literal('OK'),
    queue_size: z.int().min(0).meta({ description: "the size of the queue of the batch's last item" }),
    queue_sizes: queueSizes,
  })
  .meta({ description: 'sent only after the commit that holds the items' });

const restErrnos = errnoTable.map((row) => row.errno);

export const refusalSchema = z.strictObject({
  result: z.literal('KO'),
  errno: z.union(restErrnos.map((errno) => z.literal(errno))).meta({ description: 'see the errno table above' }),
  error: z.string(),
  errors: z
    .array(z.strictObject({ index: z.int().min(0), field: z.string(), errno: z.int(), error: z.string() }))
    .max(MAX_LISTED_ERRORS)
    .optional()
    .meta({ description: `item-level refusals: every offending field of every item, the first ${MAX_LISTED_ERRORS}` }),
  errors_omitted: z.int().min(1).optional().meta({ description: 'how many item errors were left out' }),
});

export const healthSchema = z.strictObject({
  status: z.enum(['ok', 'unavailable']),
  database: z.enum(['ok', 'unreachable']),
  migrations: z.enum(['ok', 'pending', 'unknown']),
});

export const pairingRequestSchema = z.object({
  code: z.string().meta({ description: 'the one-time code shown on a signed-in device page, like ABCD-EFGH' }),
  name: z.string().optional().meta({ description: 'a name for the new device' }),
});

export const pairedDeviceSchema = z.strictObject({
  token: z.string().meta({ description: 'the new device token (prs_dev_…), shown once' }),
  deviceId: z.string(),
  deviceName: z.string(),
});

/** Every schema of the document, by component name: the routes' own zod schemas. */
const componentSchemas: [string, z.ZodType][] = [
  ['Notification', notificationSchema],
  ['NotificationBatch', notificationBatchSchema],
  ['Ack', ackSchema],
  ['Retraction', retractionSchema],
  ['RetractRequest', retractRequestSchema],
  ['RetractAck', retractAckSchema],
  ['Refusal', refusalSchema],
  ['Health', healthSchema],
  ['PairingRequest', pairingRequestSchema],
  ['PairedDevice', pairedDeviceSchema],
  ['GrantTokenRequest', grantTokenRequestSchema],
  ['GrantTokenAnswer', grantTokenAnswerSchema],
];

/** The JSON Schemas of the components, with `$ref`s between them. */
function componentsFromZod(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of componentSchemas) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { target: 'draft-2020-12', uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _, $id: __, ...schema }]) => [id, schema]));
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

function errnoMarkdown(errnos: readonly number[]): string {
  const rows = errnoTable.filter((row) => errnos.includes(row.errno)).map((row) => `| ${row.errno} | ${row.status} | ${row.meaning} |`);
  return ['| errno | status | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

type Example = { summary: string; value: unknown; 'x-credentials'?: 'none' | 'wrong-key' };

/**
 * The examples of the notification route, by name: the request and the answer
 * it gets. The same name keys the request example and its response example.
 */
type RouteExamples = Record<string, { request: Example; status: number; response: unknown }>;

const notificationExamples: RouteExamples = {
  one: {
    request: { summary: 'one notification', value: { UID: EXAMPLE_UID, message: 'Your nick was used in #general', action: 'https://chat.example/#general' } },
    status: 200,
    response: { result: 'OK', queue_size: 1, queue_sizes: { [EXAMPLE_UID]: 1 } },
  },
  batch: {
    request: {
      summary: 'a list, with a deep link, a TTL and a tag',
      value: [
        { UID: EXAMPLE_UID, message: 'Anna wants you in room 42', action: 'demo://room/42', ttl: 600 },
        { UID: EXAMPLE_UID, message: '3 new messages', action: 'https://chat.example/inbox', tag: 'inbox:unread' },
      ],
    },
    status: 200,
    response: { result: 'OK', queue_size: 2, queue_sizes: { [EXAMPLE_UID]: 2 } },
  },
  invalidField: {
    request: { summary: 'refused: an empty message (102)', value: { UID: EXAMPLE_UID, message: '', action: 'https://chat.example/' } },
    status: 400,
    response: {
      result: 'KO',
      errno: Errno.InvalidField,
      error: 'item 0: message must not be empty',
      errors: [{ index: 0, field: 'message', errno: Errno.InvalidField, error: 'message must not be empty' }],
    },
  },
  unknownField: {
    request: { summary: 'refused: an unknown field (103)', value: { UID: EXAMPLE_UID, message: 'Hi', url: 'https://chat.example/' } },
    status: 400,
    response: {
      result: 'KO',
      errno: Errno.UnknownField,
      error: 'item 0: unknown field "url": did you mean "action"? (and 1 more)',
      errors: [
        { index: 0, field: 'url', errno: Errno.UnknownField, error: 'unknown field "url": did you mean "action"?' },
        { index: 0, field: 'action', errno: Errno.InvalidField, error: 'action is required' },
      ],
    },
  },
  actionNotAllowed: {
    request: { summary: 'refused: a scheme the app did not register (104)', value: { UID: EXAMPLE_UID, message: 'Hi', action: 'ftp://files.example/' } },
    status: 400,
    response: {
      result: 'KO',
      errno: Errno.ActionNotAllowed,
      error: 'item 0: scheme "ftp:" is not registered for this app',
      errors: [{ index: 0, field: 'action', errno: Errno.ActionNotAllowed, error: 'scheme "ftp:" is not registered for this app' }],
    },
  },
  unknownUid: {
    request: { summary: 'refused: a UID never granted to this app (105)', value: { UID: 'u_neverGranted', message: 'Hi', action: 'https://chat.example/' } },
    status: 404,
    response: {
      result: 'KO',
      errno: Errno.UnknownUid,
      error: 'item 0: unknown UID',
      errors: [{ index: 0, field: 'UID', errno: Errno.UnknownUid, error: 'unknown UID' }],
    },
  },
  missingCredentials: {
    request: {
      summary: 'refused: no Authorization header (110)',
      value: { UID: EXAMPLE_UID, message: 'Hi', action: 'https://chat.example/' },
      'x-credentials': 'none',
    },
    status: 401,
    response: { result: 'KO', errno: Errno.MissingCredentials, error: 'missing or malformed credentials: send "Authorization: Bearer <app key>"' },
  },
  invalidKey: {
    request: {
      summary: 'refused: a key not valid for this appid (111)',
      value: { UID: EXAMPLE_UID, message: 'Hi', action: 'https://chat.example/' },
      'x-credentials': 'wrong-key',
    },
    status: 401,
    response: { result: 'KO', errno: Errno.InvalidKey, error: 'key not valid for this appid' },
  },
};

/** The tag of the retraction examples; their test first sends a notification with it, so that one is pending. */
export const EXAMPLE_PENDING_TAG = 'call:42';

const retractExamples: RouteExamples = {
  retractOne: {
    request: { summary: 'take back a pending notification', value: { UID: EXAMPLE_UID, tag: EXAMPLE_PENDING_TAG } },
    status: 200,
    response: { result: 'OK', retracted: 1, queue_sizes: { [EXAMPLE_UID]: 0 } },
  },
  notPending: {
    request: { summary: 'a tag that is not pending: not an error', value: [{ UID: EXAMPLE_UID, tag: 'call:41' }] },
    status: 200,
    response: { result: 'OK', retracted: 0, queue_sizes: { [EXAMPLE_UID]: 1 } },
  },
  invalidTag: {
    request: { summary: 'refused: not a tag (102)', value: { UID: EXAMPLE_UID, tag: 'call 42' } },
    status: 400,
    response: {
      result: 'KO',
      errno: Errno.InvalidField,
      error: 'item 0: tag must be 1 to 64 of A-Z a-z 0-9 . _ : -',
      errors: [{ index: 0, field: 'tag', errno: Errno.InvalidField, error: 'tag must be 1 to 64 of A-Z a-z 0-9 . _ : -' }],
    },
  },
  unknownUid: {
    request: { summary: 'refused: a UID never granted to this app (105)', value: { UID: 'u_neverGranted', tag: EXAMPLE_PENDING_TAG } },
    status: 404,
    response: {
      result: 'KO',
      errno: Errno.UnknownUid,
      error: 'item 0: unknown UID',
      errors: [{ index: 0, field: 'UID', errno: Errno.UnknownUid, error: 'unknown UID' }],
    },
  },
};

const requestIdHeader = {
  description: 'the request id: yours if you sent a sane one (1 to 100 of A–Z a–z 0–9 _ . -), else a new UUID; the server log lines carry it',
  schema: { type: 'string' },
};
const retryAfterHeader = { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } };

function jsonResponse(
  description: string,
  schemaId: string,
  examples: Record<string, { summary: string; value: unknown }>,
  headers: Record<string, unknown> = {},
) {
  return {
    description,
    headers: { 'X-Request-Id': requestIdHeader, ...headers },
    content: { 'application/json': { schema: ref(schemaId), ...(Object.keys(examples).length > 0 ? { examples } : {}) } },
  };
}

/** The errnos the notification and retract routes can answer (pairing and the grant code exchange have their own). */
const appRouteErrnos = restErrnos.filter((errno) => (errno < 140 || errno >= 150) && errno !== Errno.GrantCodeInvalid);

/** The examples of the grant code exchange; their test first lets a user allow the app, for a real code. */
const grantTokenExamples: Record<string, { request: Example; status: number; response: unknown }> = {
  exchange: {
    request: { summary: 'exchange the code from the redirect', value: { code: EXAMPLE_GRANT_CODE } },
    status: 200,
    response: { uid: EXAMPLE_UID },
  },
  unknownCode: {
    request: { summary: 'refused: a code that is unknown, used, expired or another app’s (160)', value: { code: 'not-a-code' } },
    status: 400,
    response: { result: 'KO', errno: Errno.GrantCodeInvalid, error: 'grant code not valid: unknown, used already, expired, or issued for another app' },
  },
};

/** The refusals of the exchange by status: those of the notification route that apply, and 160. */
const grantTokenErrnos: Record<number, number[]> = {
  400: [Errno.InvalidJson, Errno.InvalidField, Errno.UnknownField, Errno.GrantCodeInvalid],
  401: [Errno.MissingCredentials, Errno.InvalidKey],
  405: [Errno.MethodNotAllowed],
  413: [Errno.TooLarge],
  415: [Errno.NotJson],
  429: [Errno.SlowDown],
  500: [Errno.Internal],
  503: [Errno.StorageUnavailable],
};

function grantTokenRoute() {
  const responses: Record<string, unknown> = {
    200: jsonResponse('the UID this app knows the user by', 'GrantTokenAnswer', {
      exchange: { summary: 'exchanged', value: grantTokenExamples.exchange?.response },
    }),
  };
  for (const [status, errnos] of Object.entries(grantTokenErrnos)) {
    const headers: Record<string, unknown> = {};
    if (status === '401') headers['WWW-Authenticate'] = { description: 'the Bearer challenge', schema: { type: 'string' } };
    if (status === '405') headers.Allow = { description: '`POST`', schema: { type: 'string' } };
    if (status === '429' || status === '503') headers['Retry-After'] = retryAfterHeader;
    const examples: Record<string, { summary: string; value: unknown }> =
      status === '400' ? { unknownCode: { summary: 'refused', value: grantTokenExamples.unknownCode?.response } } : {};
    responses[status] = jsonResponse(`refused, nothing changed: errno ${errnos.join(', ')}\n\n${errnoMarkdown(errnos)}`, 'Refusal', examples, headers);
  }
  return {
    post: {
      tags: ['notifications'],
      operationId: 'exchangeGrantCode',
      summary: 'Exchange a grant code for a UID',
      description: [
        'After a user allowed your app on the grant page (`GET /{appid}/grant?redirect_uri=…&state=…`), the browser comes back to your',
        'registered redirect URI with `code` and your `state`. Exchange the code here, with your app key, within 60 seconds: the answer is',
        'the UID to notify the user with, the same one while their grant is active. A code works once. The body is at most 4 KiB.',
      ].join(' '),
      security: [{ appKey: [] }],
      parameters: appRouteParameters.filter((parameter) => parameter.name !== 'Idempotency-Key'),
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: ref('GrantTokenRequest'),
            examples: Object.fromEntries(Object.entries(grantTokenExamples).map(([name, example]) => [name, example.request])),
          },
        },
      },
      responses,
    },
  };
}

function appRouteResponses(examples: RouteExamples, ackId: string, ackDescription: string) {
  const byStatus = new Map<number, Record<string, { summary: string; value: unknown }>>();
  for (const [name, example] of Object.entries(examples)) {
    const named = byStatus.get(example.status) ?? {};
    named[name] = { summary: example.request.summary, value: example.response };
    byStatus.set(example.status, named);
  }
  const statuses = [...new Set(errnoTable.filter((row) => appRouteErrnos.includes(row.errno)).map((row) => row.status))].sort();
  const responses: Record<string, unknown> = { 200: jsonResponse(ackDescription, ackId, byStatus.get(200) ?? {}) };
  for (const status of statuses) {
    const errnos = errnoTable.filter((row) => row.status === status && appRouteErrnos.includes(row.errno)).map((row) => row.errno);
    const headers: Record<string, unknown> = {};
    if (status === 401) headers['WWW-Authenticate'] = { description: 'the Bearer challenge', schema: { type: 'string' } };
    if (status === 405) headers.Allow = { description: '`POST`', schema: { type: 'string' } };
    if (status === 429 || status === 503) headers['Retry-After'] = retryAfterHeader;
    responses[status] = jsonResponse(
      `refused, nothing changed: errno ${errnos.join(', ')}\n\n${errnoMarkdown(errnos)}`,
      'Refusal',
      byStatus.get(status) ?? {},
      headers,
    );
  }
  return responses;
}

const appRouteParameters = [
  { name: 'appid', in: 'path', required: true, description: 'the app the key belongs to', schema: { type: 'string' }, example: EXAMPLE_APPID },
  {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description:
      'makes the POST safe to retry: a repeat with the same key within 24 hours gets the first ack again and changes nothing; the same key with another body is refused (422, errno 120)',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' },
  },
  {
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    description: 'your id for this request, echoed back',
    schema: { type: 'string', pattern: '^[\\w.-]{1,100}$' },
  },
];

/** A POST of an app, with the app key: the notification and retract routes. */
function appRoute(operation: {
  operationId: string;
  summary: string;
  description: string;
  bodyId: string;
  ackId: string;
  ackDescription: string;
  examples: RouteExamples;
}) {
  return {
    post: {
      tags: ['notifications'],
      operationId: operation.operationId,
      summary: operation.summary,
      description: operation.description,
      security: [{ appKey: [] }],
      parameters: appRouteParameters,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: ref(operation.bodyId),
            examples: Object.fromEntries(Object.entries(operation.examples).map(([name, example]) => [name, example.request])),
          },
        },
      },
      responses: appRouteResponses(operation.examples, operation.ackId, operation.ackDescription),
    },
  };
}

function buildDocument() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Presence',
      version: '1',
      description: [
        'Live notifications for the users of your application (an "AppService"): POST short notifications to a user\'s UID,',
        'and Presence delivers them to every connected device of that user, or keeps them queued (at most 100 per UID and app, oldest dropped).',
        '',
        'Every refusal is `{"result": "KO", "errno", "error"}` and stores nothing. The errnos:',
        '',
        errnoMarkdown(restErrnos),
      ].join('\n'),
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'notifications', description: 'for AppServices, with the app key' },
      { name: 'devices', description: 'for the desktop daemon' },
      { name: 'operations', description: 'for load balancers and operators' },
    ],
    paths: {
      '/{appid}/notification': appRoute({
        operationId: 'sendNotifications',
        summary: 'Send notifications',
        description: [
          `Stores 1 to ${MAX_ITEMS_PER_BATCH} notifications, all or nothing, in one FIFO queue per (UID, app). The body is at most 2 MiB,`,
          'nested at most 16 levels, with at most 10,000 values. Checks run in this order and the first failure answers:',
          'method, credentials (and the rate limit), content type, size, JSON, shape, each item, UIDs.',
          'An item with a `tag` replaces the pending item of its queue with that tag.',
        ].join(' '),
        bodyId: 'NotificationBatch',
        ackId: 'Ack',
        ackDescription: 'stored: every item committed',
        examples: notificationExamples,
      }),
      '/{appid}/retract': appRoute({
        operationId: 'retractNotifications',
        summary: 'Retract notifications',
        description: [
          `Takes back 1 to ${MAX_RETRACTIONS_PER_REQUEST} tagged notifications, all or nothing: deletes the pending items with those tags`,
          'and tells the connected devices to close what they show for them. Retracting what is not there is not an error.',
          'The same credentials, checks and errnos as sending.',
        ].join(' '),
        bodyId: 'RetractRequest',
        ackId: 'RetractAck',
        ackDescription: 'retracted: committed, and the devices told',
        examples: retractExamples,
      }),
      '/{appid}/grant/token': grantTokenRoute(),
      '/pair': {
        post: {
          tags: ['devices'],
          operationId: 'pairDevice',
          summary: 'Pair a device',
          description:
            'Exchanges a one-time pairing code, issued on a signed-in device page, for a device token of the same user. Unknown codes are throttled per address.',
          requestBody: { required: true, content: { 'application/json': { schema: ref('PairingRequest'), example: { code: 'ABCD-EFGH', name: 'laptop' } } } },
          responses: {
            200: { description: 'paired', content: { 'application/json': { schema: ref('PairedDevice') } } },
            400: { description: `errno 100 or 102\n\n${errnoMarkdown([100, 102])}`, content: { 'application/json': { schema: ref('Refusal') } } },
            404: { description: `no such code\n\n${errnoMarkdown([140])}`, content: { 'application/json': { schema: ref('Refusal') } } },
            410: { description: `used or expired\n\n${errnoMarkdown([141, 142])}`, content: { 'application/json': { schema: ref('Refusal') } } },
            429: {
              description: `throttled\n\n${errnoMarkdown([143])}`,
              headers: { 'Retry-After': retryAfterHeader },
              content: { 'application/json': { schema: ref('Refusal') } },
            },
          },
        },
      },
      '/healthz': {
        get: {
          tags: ['operations'],
          operationId: 'health',
          summary: 'Health',
          description: 'Is the database reachable, and are all migrations applied?',
          responses: {
            200: {
              description: 'healthy',
              content: { 'application/json': { schema: ref('Health'), example: { status: 'ok', database: 'ok', migrations: 'ok' } } },
            },
            503: {
              description: 'not ready',
              content: { 'application/json': { schema: ref('Health'), example: { status: 'unavailable', database: 'unreachable', migrations: 'unknown' } } },
            },
          },
        },
      },
      '/downloads/presence-daemon.tgz': {
        get: {
          tags: ['devices'],
          operationId: 'downloadDaemon',
          summary: 'Download the desktop daemon',
          description: 'The daemon package, for `npm install -g <url>`.',
          responses: {
            200: { description: 'the npm package', content: { 'application/gzip': { schema: { type: 'string', contentMediaType: 'application/gzip' } } } },
            404: { description: 'this node offers no package' },
          },
        },
      },
      '/downloads/presence-client.tgz': {
        get: {
          tags: ['notifications'],
          operationId: 'downloadClient',
          summary: 'Download the typed client',
          description: 'The AppService client package (TypeScript declarations, no dependencies), for `npm install <url>`.',
          responses: {
            200: { description: 'the npm package', content: { 'application/gzip': { schema: { type: 'string', contentMediaType: 'application/gzip' } } } },
            404: { description: 'this node offers no package' },
          },
        },
      },
    },
    components: {
      securitySchemes: { appKey: { type: 'http', scheme: 'bearer', description: 'the app key (`prs_app_…`), given once by `presence app create`' } },
      schemas: componentsFromZod(),
    },
  };
}

/** The document, built once when this module loads (at start-up), never per request. */
export const OPENAPI_DOCUMENT = buildDocument();
const documentJson = JSON.stringify(OPENAPI_DOCUMENT);

/** Answers `GET /openapi.json` (and HEAD); anything else gets 405. */
export function handleOpenApiRequest(req: IncomingMessage, res: ServerResponse): void {
  const json = documentJson;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).end('Method not allowed\n');
    return;
  }
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'public, max-age=300',
    'Access-Control-Allow-Origin': '*',
  });
  res.end(req.method === 'HEAD' ? undefined : json);
}
