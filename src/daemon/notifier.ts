/**
 * Native notifications through the freedesktop Notifications interface on the
 * D-Bus session bus: one bus connection for the daemon's life (no process per
 * item), clicks as ActionInvoked signals, the user's dismissals as
 * NotificationClosed. Where there is no notification server the daemon prints only.
 */
import { EventEmitter } from 'node:events';
import dbus from 'dbus-next';
import type { DeliveredItem } from '../shared/delivery.ts';

const SERVICE = 'org.freedesktop.Notifications';
const OBJECT_PATH = '/org/freedesktop/Notifications';

/** The part of the interface used here, so that no introspection of the server is needed. */
const INTERFACE_XML = `<node><interface name="${SERVICE}">
  <method name="GetCapabilities"><arg type="as" direction="out"/></method>
  <method name="Notify">
    <arg type="s" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/><arg type="s" direction="in"/>
    <arg type="s" direction="in"/><arg type="as" direction="in"/><arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
    <arg type="u" direction="out"/>
  </method>
  <method name="CloseNotification"><arg type="u" direction="in"/></method>
  <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
  <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
</interface></node>`;

/** NotificationClosed's reason when the user dismissed it. */
const CLOSED_BY_USER = 2;
/** The spec's urgency hint: 1 is normal. */
const URGENCY_NORMAL = 1;
/** expire_timeout for "the server's default". */
const SERVER_DEFAULT_EXPIRY = -1;
/** A notification stays at most this long, however long its item's TTL. */
export const MAX_EXPIRY_MS = 3_600_000;
/** Of the items arriving together, this many newest are shown one by one; the rest get one summary per app. */
export const SHOWN_ONE_BY_ONE = 3;
/** Notifications remembered for clicks and dismissals; past this the oldest are forgotten. */
const MAX_TRACKED = 1_000;
/** How long the notification server may take to answer at startup. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * The body as the spec's body markup wants plain text: `&`, `<` and `>` as
 * entities, so a server that renders markup shows `<b>` as written and never
 * sees a link it did not get from us.
 */
export function bodyMarkup(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** expire_timeout for an item: until it expires, at most {@link MAX_EXPIRY_MS}; the server's default without a TTL. */
export function expiryFor(item: DeliveredItem, now = Date.now()): number {
  if (!item.expiresAt) return SERVER_DEFAULT_EXPIRY;
  return Math.min(MAX_EXPIRY_MS, Math.max(1, Date.parse(item.expiresAt) - now));
}

/** The server's methods, as `dbus-next` makes them from {@link INTERFACE_XML}. */
export interface NotificationServer {
  on(event: string, listener: (...args: never[]) => void): unknown;
  GetCapabilities(): Promise<string[]>;
  Notify(appName: string, replacesId: number, icon: string, summary: string, body: string, actions: string[], hints: object, expiry: number): Promise<number>;
  CloseNotification(id: number): Promise<void>;
}

/** One popup to raise: an item, or a summary of several items of one app. */
export interface Popup {
  appName: string;
  body: string;
  ids: string[];
  /** Set for a single item: its action opens on a click. */
  item?: DeliveredItem;
  /** Set for a single tagged item: what it replaces in place ({@link tagKey}). */
  tag?: string;
  expiry: number;
}

/** One key per (app, tag): tags are unique within an app only. */
export function tagKey(appid: string, tag: string): string {
  return `${appid}\n${tag}`;
}

/**
 * Items arriving together with the same (app, tag) collapse to the newest,
 * which carries the ids of those it replaced; untagged items stay as they are.
 */
function newestPerTag(items: readonly DeliveredItem[]): { item: DeliveredItem; ids: string[] }[] {
  const newest = new Map<string, number>();
  items.forEach((item, index) => {
    if (item.tag !== undefined) newest.set(tagKey(item.appid, item.tag), index);
  });
  const replaced = new Map<number, string[]>();
  const kept: { item: DeliveredItem; ids: string[] }[] = [];
  items.forEach((item, index) => {
    const last = item.tag === undefined ? index : (newest.get(tagKey(item.appid, item.tag)) as number);
    const ids = replaced.get(last) ?? [];
    ids.push(item.id);
    replaced.set(last, ids);
    if (last === index) kept.push({ item, ids });
  });
  return kept;
}

/**
 * What items arriving together (oldest first) become: items with the same
 * (app, tag) collapse to the newest, then the newest {@link SHOWN_ONE_BY_ONE}
 * come one by one, and before them one summary per app for the older rest
 * ("and 9 more from Chat"), oldest first.
 */
export function popupsFor(items: readonly DeliveredItem[], now = Date.now()): Popup[] {
  const kept = newestPerTag(items);
  const cut = Math.max(0, kept.length - SHOWN_ONE_BY_ONE);
  const summaries = new Map<string, Popup & { count: number }>();
  for (const { item, ids } of kept.slice(0, cut)) {
    const summary = summaries.get(item.appid) ?? { appName: item.appName, body: '', ids: [], count: 0, expiry: SERVER_DEFAULT_EXPIRY };
    summary.ids.push(...ids);
    summary.count++;
    summaries.set(item.appid, summary);
  }
  const summarised = [...summaries.values()].map(({ count, ...summary }) => ({ ...summary, body: `and ${count} more from ${summary.appName}` }));
  const single = kept.slice(cut).map(({ item, ids }) => ({
    appName: item.appName,
    body: item.message,
    ids,
    item,
    ...(item.tag === undefined ? {} : { tag: tagKey(item.appid, item.tag) }),
    expiry: expiryFor(item, now),
  }));
  return [...summarised, ...single];
}

export interface NotifierEvents {
  /** The user clicked an item's notification (or its "Open" button). */
  open: [item: DeliveredItem];
  /** The user clicked or dismissed notifications showing these items. */
  dismissed: [ids: string[]];
  /** The notification server failed a call: that popup is lost (the item was printed). */
  failed: [error: Error];
}

export interface Notifier extends EventEmitter<NotifierEvents> {
  /** Shows items that arrived together, oldest first. */
  show(items: readonly DeliveredItem[]): void;
  /** Closes what shows these items (dismissed on another device). */
  close(ids: readonly string[]): void;
  /** Closes what shows these (app, tag) pairs (the app took them back). */
  retract(tags: readonly { appid: string; tag: string }[]): void;
  /** Closes the bus connection. */
  end(): void;
}

interface Shown {
  /** Items still shown by this notification. */
  ids: Set<string>;
  item?: DeliveredItem;
  /** Its {@link tagKey}, for a tagged item. */
  tag?: string;
}

/** The notifier over one notification server; `disconnect` ends its bus connection. */
export class DesktopNotifier extends EventEmitter<NotifierEvents> implements Notifier {
  private readonly shown = new Map<number, Shown>();
  private readonly byItem = new Map<string, number>();
  /** The notification showing each (app, tag): a new item of it replaces that one in place. */
  private readonly byTag = new Map<string, number>();
  // One call at a time, so popups appear in order.
  private calls = Promise.resolve();

  constructor(
    private readonly disconnect: () => void,
    private readonly server: NotificationServer,
    private readonly actions: boolean,
  ) {
    super();
    server.on('ActionInvoked', (id: number, key: string) => this.invoked(id, key));
    server.on('NotificationClosed', (id: number, reason: number) => this.closed(id, reason));
  }

  show(items: readonly DeliveredItem[]): void {
    for (const popup of popupsFor(items)) this.enqueue(() => this.notify(popup));
  }

  close(ids: readonly string[]): void {
    for (const itemId of ids) {
      const id = this.byItem.get(itemId);
      if (id === undefined) continue;
      this.byItem.delete(itemId);
      const shown = this.shown.get(id);
      shown?.ids.delete(itemId);
      if (shown?.ids.size !== 0) continue;
      // Closed by us: its NotificationClosed (reason 3) must not count as the user's.
      this.forget(id);
      this.enqueue(() => this.server.CloseNotification(id));
    }
  }

  retract(tags: readonly { appid: string; tag: string }[]): void {
    for (const { appid, tag } of tags) {
      // Looked up when the call runs, so a retraction right after its item's popup finds it.
      this.enqueue(async () => {
        const id = this.byTag.get(tagKey(appid, tag));
        if (id === undefined) return;
        // Closed by us: its NotificationClosed must not count as the user's.
        this.forget(id);
        await this.server.CloseNotification(id);
      });
    }
  }

  end(): void {
    this.disconnect();
  }

  private enqueue(call: () => Promise<unknown>): void {
    this.calls = this.calls.then(call).then(
      () => undefined,
      (error: unknown) => void this.emit('failed', error instanceof Error ? error : new Error(String(error))),
    );
  }

  private async notify(popup: Popup): Promise<void> {
    const actions = this.actions && popup.item ? ['default', 'Open', 'open', 'Open'] : [];
    const hints = { urgency: new dbus.Variant('y', URGENCY_NORMAL) };
    const replaces = popup.tag === undefined ? undefined : this.byTag.get(popup.tag);
    // The replaced item's ids are forgotten: a dismissal of it elsewhere must not close its successor.
    if (replaces !== undefined) this.forget(replaces);
    const id = await this.server.Notify(popup.appName, replaces ?? 0, '', popup.appName, bodyMarkup(popup.body), actions, hints, popup.expiry);
    this.shown.set(id, { ids: new Set(popup.ids), item: popup.item, tag: popup.tag });
    for (const itemId of popup.ids) this.byItem.set(itemId, id);
    if (popup.tag !== undefined) this.byTag.set(popup.tag, id);
    if (this.shown.size > MAX_TRACKED) this.forget(this.shown.keys().next().value as number);
  }

  private forget(id: number): Shown | undefined {
    const shown = this.shown.get(id);
    this.shown.delete(id);
    for (const itemId of shown?.ids ?? []) if (this.byItem.get(itemId) === id) this.byItem.delete(itemId);
    if (shown?.tag !== undefined && this.byTag.get(shown.tag) === id) this.byTag.delete(shown.tag);
    return shown;
  }

  private invoked(id: number, key: string): void {
    const shown = this.forget(id);
    if (!shown) return;
    if (shown.item && (key === 'default' || key === 'open')) this.emit('open', shown.item);
    this.emit('dismissed', [...shown.ids]);
    // Servers may keep a notification after a click; it has done its work.
    this.enqueue(() => this.server.CloseNotification(id));
  }

  private closed(id: number, reason: number): void {
    const shown = this.forget(id);
    if (shown && reason === CLOSED_BY_USER && shown.ids.size > 0) this.emit('dismissed', [...shown.ids]);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The notification server of this desktop session, or null (print only): Linux and the BSDs with a D-Bus session bus. */
export async function connectNotifier(env: NodeJS.ProcessEnv): Promise<Notifier | null> {
  const busAddress = env.DBUS_SESSION_BUS_ADDRESS;
  if (process.platform === 'darwin' || process.platform === 'win32' || !busAddress) return null;
  let bus: dbus.MessageBus | undefined;
  try {
    bus = dbus.sessionBus({ busAddress });
    const failed = new Promise<never>((_, reject) => bus?.once('error', reject));
    const connect = async () => {
      const object = await (bus as dbus.MessageBus).getProxyObject(SERVICE, OBJECT_PATH, INTERFACE_XML);
      const server: NotificationServer = object.getInterface<dbus.ClientInterface & NotificationServer>(SERVICE);
      const capabilities = await server.GetCapabilities();
      return new DesktopNotifier(() => bus?.disconnect(), server, capabilities.includes('actions'));
    };
    const notifier = await withTimeout(Promise.race([connect(), failed]), CONNECT_TIMEOUT_MS);
    // A later bus failure must not crash the daemon: it stays connected to Presence and keeps printing.
    bus.on('error', (error: Error) => notifier.emit('failed', error));
    return notifier;
  } catch {
    bus?.on('error', () => undefined);
    bus?.disconnect();
    return null;
  }
}
