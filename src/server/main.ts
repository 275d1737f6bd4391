/**
 * `npm start`: runs one Presence node until SIGINT or SIGTERM.
 */
import { loadConfig } from './config.ts';
import { demoCredentialsPath } from './demo.ts';
import { operatorTokenPath } from './operators.ts';
import { startPresence, type PresenceNode } from './server.ts';

function banner(node: PresenceNode, dataDir: string): string {
  const lines = [`Presence is running at ${node.url}`];
  lines.push(`  dashboard: ${node.url}/admin${node.embedded && node.operatorToken ? ` (operator token: ${node.operatorToken}, kept in ${operatorTokenPath(dataDir)})` : ''}`);
  lines.push(`  device page: ${node.url}/device`);
  if (!node.embedded) return lines.join('\n');
  lines.push(`  database: embedded PostgreSQL, data in ${node.embedded.clusterDir}`);
  if (node.demo) {
    const { appid, key, uid } = node.demo;
    const body = JSON.stringify({ UID: uid, message: 'Hello from Presence', action: 'https://example.com/' });
    lines.push(
      `  demo credentials (app key, device token, UID): ${demoCredentialsPath(dataDir)} (readable by its owner only)`,
      '  send a notification to the demo user:',
      `    curl -X POST ${node.url}/${appid}/notification -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '${body}'`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const config = loadConfig();
  const node = await startPresence(config, { dev: process.argv.includes('--dev') });
  console.log(banner(node, config.PRESENCE_DATA_DIR));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('error while stopping', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
