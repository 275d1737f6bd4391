/** What the desktop notifier raises for items arriving together, and each popup's expiry. */
import { describe, expect, it } from 'vitest';
import { bodyMarkup, expiryFor, MAX_EXPIRY_MS, popupsFor } from '../../src/daemon/notifier.ts';
import type { DeliveredItem } from '../../src/shared/delivery.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function item(id: number, app: string, extra: Partial<DeliveredItem> = {}): DeliveredItem {
  return {
    id: String(id),
    appid: app.toLowerCase(),
    appName: app,
    message: `m${id}`,
    action: 'https://e.com/',
    createdAt: new Date(NOW).toISOString(),
    ...extra,
  };
}

describe('popupsFor', () => {
  it('shows up to 3 items one by one, without summaries', () => {
    const popups = popupsFor([item(1, 'Chat'), item(2, 'Mail'), item(3, 'Chat')], NOW);
    expect(popups.map((p) => [p.appName, p.body, p.ids])).toEqual([
      ['Chat', 'm1', ['1']],
      ['Mail', 'm2', ['2']],
      ['Chat', 'm3', ['3']],
    ]);
  });

  it('summarises all but the newest 3 per app, oldest first, keeping every id', () => {
    const items = Array.from({ length: 30 }, (_, i) => item(i + 1, i % 3 === 0 ? 'Mail' : 'Chat'));
    const popups = popupsFor(items, NOW);
    expect(popups.map((p) => [p.appName, p.body])).toEqual([
      ['Mail', 'and 9 more from Mail'],
      ['Chat', 'and 18 more from Chat'],
      ['Mail', 'm28'],
      ['Chat', 'm29'],
      ['Chat', 'm30'],
    ]);
    expect(popups.flatMap((p) => p.ids).sort((a, b) => Number(a) - Number(b))).toEqual(items.map((i) => i.id));
    // A summary has no single action to open.
    expect(popups[0]?.item).toBeUndefined();
    expect(popups[4]?.item?.id).toBe('30');
  });
});

describe('expiryFor', () => {
  it('is the time left before the item expires, capped, and the server default without a TTL', () => {
    expect(expiryFor(item(1, 'Chat'), NOW)).toBe(-1);
    expect(expiryFor(item(1, 'Chat', { expiresAt: new Date(NOW + 90_000).toISOString() }), NOW)).toBe(90_000);
    expect(expiryFor(item(1, 'Chat', { expiresAt: new Date(NOW + 86_400_000).toISOString() }), NOW)).toBe(MAX_EXPIRY_MS);
    // Already past (a slow clock): gone at once rather than never.
    expect(expiryFor(item(1, 'Chat', { expiresAt: new Date(NOW - 5_000).toISOString() }), NOW)).toBe(1);
  });
});

describe('bodyMarkup', () => {
  it('escapes &, < and > and nothing else (backslashes stay)', () => {
    expect(bodyMarkup('<b>&</b> C:\\new "q"')).toBe('&lt;b&gt;&amp;&lt;/b&gt; C:\\new "q"');
  });
});
