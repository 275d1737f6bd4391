/**
 * `GET /metrics` through a real node: valid Prometheus text (checked by
 * promtool, which .ci/run installs) and, with METRICS_TOKEN, readable only with
 * that token.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient } from '../support/factories.ts';
import { postNotifications, startTestNode, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** The `# TYPE` lines of an exposition: metric name → type. */
function metricTypes(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
}

describe('the metrics exposition', () => {
  it('names no gauge _total and prefixes the process metrics once', async () => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const types = metricTypes(text);
    expect(types.get('presence_process_cpu_seconds_total')).toBe('counter');
    expect(types.get('presence_nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
    const misnamed = [...types].filter(([name, type]) => type !== 'counter' && name.endsWith('_total')).map(([name]) => name);
    expect(misnamed).toEqual([]);
    expect(text).not.toContain('presence_process_process_');
    expect(text).not.toContain('presence_process_nodejs_');
  });

  it('passes promtool check metrics, with traffic recorded', async () => {
    expect(hasPromtool, 'promtool is not installed: apt-get install prometheus (.ci/run does)').toBe(true);
    const r = await makeRecipient(db);
    await postNotifications(node.url, r.appid, r.key, { UID: r.uid, message: 'hi', action: 'https://example.com/' });
    await postNotifications(node.url, r.appid, r.key, { UID: r.uid });
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
});

describe('METRICS_TOKEN', () => {
  it('keeps /metrics (app names and traffic) from anyone without the bearer token', async () => {
    const token = 'metrics-scrape-token-0123456789';
    const guarded = await startTestNode({ METRICS_TOKEN: token });
    try {
      const r = await makeRecipient(db);
      await postNotifications(guarded.url, r.appid, r.key, { UID: r.uid, message: 'hi', action: 'https://example.com/' });
      for (const authorization of [undefined, 'Bearer wrong-token-wrong-token', `Basic ${token}`, `Bearer ${token}x`]) {
        const refused = await fetch(`${guarded.url}/metrics`, { headers: authorization ? { Authorization: authorization } : {} });
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
        const body = await refused.text();
        expect(body).not.toContain(r.appid);
        expect(body).not.toContain('presence_');
      }
      const allowed = await fetch(`${guarded.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain(`presence_notification_requests_total{app="${r.appid}",result="OK",errno=""} 1`);
      // Health stays open for load balancers.
      expect((await fetch(`${guarded.url}/healthz`)).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('refuses a METRICS_TOKEN shorter than 16 characters at start-up', async () => {
    await expect(startTestNode({ METRICS_TOKEN: 'short' })).rejects.toThrow(/METRICS_TOKEN: must be at least 16 characters/);
  });
});
