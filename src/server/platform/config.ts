/**
 * The service's configuration: the one reader of `process.env`, validated
 * once, so a bad setting stops the start with a clear message instead of
 * surfacing later as a confusing failure.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The checkout (or installed package) root: where `.presence/` lives by default. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const port = z.coerce.number().int().min(0).max(65535);
const positive = z.coerce.number().int().positive();

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** External database; without it the embedded PostgreSQL is started. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .optional(),
  /** Where the embedded default keeps its cluster and the demo credentials. */
  PRESENCE_DATA_DIR: z.string().min(1).default(path.join(projectRoot, '.presence')),
  /** Connections in this node's pool. */
  DATABASE_POOL_SIZE: positive.default(20),
  /** Longest wait for a pooled connection before answering "storage unavailable". */
  DATABASE_CONNECT_TIMEOUT_MS: positive.default(5_000),
  /** Longest a push transaction may run before it is rolled back. */
  DATABASE_TRANSACTION_TIMEOUT_MS: positive.default(10_000),
  /** The operator token for the dashboard; on the embedded default one is generated when unset. */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** When set, `GET /metrics` answers only `Authorization: Bearer <this>` (app names and traffic are not for everyone). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** This node's name in the online-connections table; default "<hostname>:<port>". */
  NODE_ID: z.string().min(1).max(200).optional(),
  /** A NATS server (or a cluster's, comma-separated) that carries wake-ups to only the nodes holding each user; unset, PostgreSQL NOTIFY carries them to every node. */
  PRESENCE_BUS: z
    .string()
    .regex(/^nats:\/\/[^/\s,]+(,nats:\/\/[^/\s,]+)*$/, 'must be nats://host:port (several comma-separated for a cluster)')
    .optional(),
  /** Requests per second each app may make (all nodes together); 0 turns the limit off. */
  RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(0).default(1_000),
  /** Origins whose pages may call the REST route from a browser ("*" for any); none by default. */
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((value) =>
      value
        ? value
            .split(',')
            .map((origin) => origin.trim())
            .filter(Boolean)
        : [],
    ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Not a setting: npm sets it for the scripts it runs; `npm start`'s node then stops when npm goes away. */
  npm_lifecycle_event: z.string().optional(),
  /** How many recent acks and refusals the dashboard's log keeps. */
  ACK_LOG_SIZE: positive.default(5_000),
  /** The packed daemon served at /downloads/presence-daemon.tgz (`npm run build` writes it). */
  DAEMON_PACKAGE_FILE: z
    .string()
    .min(1)
    .default(path.join(projectRoot, 'dist', 'presence-daemon.tgz')),
  /** The packed AppService client served at /downloads/presence-client.tgz (`npm run build` writes it). */
  CLIENT_PACKAGE_FILE: z
    .string()
    .min(1)
    .default(path.join(projectRoot, 'dist', 'presence-client.tgz')),
});

export type Config = z.infer<typeof schema>;

/** Parses an environment (the process's by default); throws one readable error listing every bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
