/**
 * What `npm start` prints once the node is up. Standard output is usually a
 * log, kept and shipped: secrets appear only when it is an interactive
 * terminal, and otherwise the banner says which owner-only file holds them.
 */
import { demoCredentialsPath } from './demo.ts';
import { operatorTokenPath } from './domain/operators.ts';
import type { PresenceNode } from './server.ts';

export interface BannerOptions {
  node: Pick<PresenceNode, 'url' | 'embedded' | 'demo' | 'operatorToken'>;
  /** PRESENCE_DATA_DIR, where generated secrets are kept. */
  dataDir: string;
  /** Standard output is a terminal (a person reads it, nothing keeps it). */
  interactive: boolean;
  /** The operator token came from ADMIN_TOKEN: its owner knows it; it is never printed. */
  operatorTokenFromEnvironment: boolean;
}

function dashboardLine({ node, dataDir, interactive, operatorTokenFromEnvironment }: BannerOptions): string {
  const url = `${node.url}/admin`;
  if (node.operatorToken === null) return `  dashboard: ${url} (ADMIN_TOKEN is not set: nobody can sign in)`;
  if (operatorTokenFromEnvironment) return `  dashboard: ${url} (sign in with ADMIN_TOKEN)`;
  const file = operatorTokenPath(dataDir);
  return interactive
    ? `  dashboard: ${url} (operator token: ${node.operatorToken}, kept in ${file})`
    : `  dashboard: ${url} (operator token in ${file}, readable by its owner only)`;
}

/** The start-up lines: URL, dashboard, device page and, on the embedded default, the database and the demo. */
export function startupBanner(options: BannerOptions): string {
  const { node, dataDir, interactive } = options;
  const lines = [`Presence is running at ${node.url}`, dashboardLine(options), `  device page: ${node.url}/device`];
  if (!node.embedded) return lines.join('\n');
  lines.push(`  database: embedded PostgreSQL, data in ${node.embedded.clusterDir}`);
  if (node.demo) {
    const { appid, key, uid } = node.demo;
    const file = demoCredentialsPath(dataDir);
    const body = JSON.stringify({ UID: uid, message: 'Hello from Presence', action: 'https://example.com/' });
    const authorization = interactive ? `Bearer ${key}` : `Bearer <key from ${file}>`;
    lines.push(
      `  demo credentials (app key, device token, UID): ${file} (readable by its owner only)`,
      '  send a notification to the demo user:',
      `    curl -X POST ${node.url}/${appid}/notification -H 'Authorization: ${authorization}' -H 'Content-Type: application/json' -d '${body}'`,
    );
  }
  return lines.join('\n');
}
