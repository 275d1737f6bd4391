/** What the desktop notifier raises for items arriving together, and each popup's expiry. */
import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { bodyMarkup, DesktopNotifier, expiryFor, MAX_EXPIRY_MS, popupsFor, type NotificationServer } from '../../src/daemon/notifier.ts';
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

describe('popupsFor with tags', () => {
  it('collapses items of one app and tag to the newest before counting, keeping every id on it', () => {
    const items = [
      item(1, 'Chat', { tag: 'unread' }),
      item(2, 'Chat', { tag: 'unread' }),
      item(3, 'Mail'),
      item(4, 'Chat', { tag: 'unread' }),
      item(5, 'Mail', { tag: 'unread' }), // the same tag in another app is another notification
    ];
    const popups = popupsFor(items, NOW);
    // Three popups after collapsing: no summary, though five items came.
    expect(popups.map((p) => [p.appName, p.body, p.ids])).toEqual([
      ['Mail', 'm3', ['3']],
      ['Chat', 'm4', ['1', '2', '4']],
      ['Mail', 'm5', ['5']],
    ]);
    expect(popups[1]?.item?.id).toBe('4');
    expect(popups[1]?.tag).not.toBe(popups[2]?.tag);
    expect(popups[0]?.tag).toBeUndefined();
  });

  it('counts a collapsed tag once in a summary', () => {
    const items = [item(1, 'Chat', { tag: 't' }), item(2, 'Chat', { tag: 't' }), item(3, 'Chat'), item(4, 'Chat'), item(5, 'Chat'), item(6, 'Chat')];
    const popups = popupsFor(items, NOW);
    expect(popups.map((p) => [p.body, p.ids])).toEqual([
      ['and 2 more from Chat', ['1', '2', '3']],
      ['m4', ['4']],
      ['m5', ['5']],
      ['m6', ['6']],
    ]);
  });
});

/** A notification server that records calls and, as the spec says, reuses the id it is asked to replace. */
class RecordingServer implements NotificationServer {
  private readonly signals = new EventEmitter();
  on(event: string, listener: (...args: never[]) => void): this {
    this.signals.on(event, listener as (...args: unknown[]) => void);
    return this;
  }
  /** Sends a signal, as the notification server does. */
  emit(signal: 'NotificationClosed' | 'ActionInvoked', id: number, detail: number | string): void {
    this.signals.emit(signal, id, detail);
  }
  notified: { replacesId: number; body: string; id: number }[] = [];
  closed: number[] = [];
  private next = 1;
  async GetCapabilities(): Promise<string[]> {
    return ['actions', 'body-markup'];
  }
  async Notify(_app: string, replacesId: number, _icon: string, _summary: string, body: string): Promise<number> {
    const id = replacesId || this.next++;
    this.notified.push({ replacesId, body, id });
    return id;
  }
  async CloseNotification(id: number): Promise<void> {
    this.closed.push(id);
  }
}

function desktop() {
  const server = new RecordingServer();
  const notifier = new DesktopNotifier(() => undefined, server, true);
  const dismissed: string[] = [];
  notifier.on('dismissed', (ids) => dismissed.push(...ids));
  return { server, notifier, dismissed };
}

describe('DesktopNotifier replace and retract', () => {
  it('replaces the notification of an (app, tag) in place and leaves other apps and untagged items alone', async () => {
    const { server, notifier } = desktop();
    notifier.show([item(1, 'Chat', { tag: 'unread', message: '3 new' })]);
    notifier.show([item(2, 'Mail', { tag: 'unread' }), item(3, 'Chat')]);
    notifier.show([item(4, 'Chat', { tag: 'unread', message: '5 new' })]);
    await expect.poll(() => server.notified.length).toBe(4);
    expect(server.notified).toEqual([
      { replacesId: 0, body: '3 new', id: 1 },
      { replacesId: 0, body: 'm2', id: 2 },
      { replacesId: 0, body: 'm3', id: 3 },
      { replacesId: 1, body: '5 new', id: 1 },
    ]);
  });

  it('closes what shows a retracted (app, tag), and nothing for a tag it does not show, without telling other devices', async () => {
    const { server, notifier, dismissed } = desktop();
    notifier.show([item(1, 'Chat', { tag: 'call' }), item(2, 'Mail', { tag: 'call' })]);
    notifier.retract([
      { appid: 'chat', tag: 'call' },
      { appid: 'chat', tag: 'other' },
    ]);
    await expect.poll(() => server.closed).toEqual([1]);
    server.emit('NotificationClosed', 1, 3); // closed by a call
    // Retracted once: a later item of that tag is a new notification, not a replacement.
    notifier.show([item(3, 'Chat', { tag: 'call' })]);
    await expect.poll(() => server.notified.at(-1)).toEqual({ replacesId: 0, body: 'm3', id: 3 });
    expect(dismissed).toEqual([]);
  });

  it('a dismissal of the replaced item from another device leaves its successor shown; the successor’s own closes it', async () => {
    const { server, notifier } = desktop();
    notifier.show([item(1, 'Chat', { tag: 'unread' })]);
    notifier.show([item(2, 'Chat', { tag: 'unread' })]);
    await expect.poll(() => server.notified.length).toBe(2);
    notifier.close(['1']);
    notifier.show([item(3, 'Mail')]); // drains the calls before it
    await expect.poll(() => server.notified.length).toBe(3);
    expect(server.closed).toEqual([]);
    notifier.close(['2']);
    await expect.poll(() => server.closed).toEqual([1]);
  });

  it('after the user closed a tagged notification, the next item of that tag raises a new one', async () => {
    const { server, notifier, dismissed } = desktop();
    notifier.show([item(1, 'Chat', { tag: 'unread' })]);
    await expect.poll(() => server.notified.length).toBe(1);
    server.emit('NotificationClosed', 1, 2); // dismissed by the user
    expect(dismissed).toEqual(['1']);
    notifier.show([item(2, 'Chat', { tag: 'unread' })]);
    await expect.poll(() => server.notified.at(-1)).toEqual({ replacesId: 0, body: 'm2', id: 2 });
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
