/** What the channel sends a daemon (README, "The channel"): items in events. */

/** One notification as the channel sends it to a daemon. */
export interface DeliveredItem {
  /** A string: database ids are 64-bit. */
  id: string;
  appid: string;
  appName: string;
  message: string;
  action: string;
  /** ISO 8601. */
  createdAt: string;
  expiresAt?: string;
  /**
   * The app's name for what this item is about ("unread:#general"): a device
   * that shows an item of the same app and tag replaces it in place.
   */
  tag?: string;
}

/** Items to show: the first event is always the whole backlog (possibly empty), then live ones. */
export interface ItemsEvent {
  kind: 'backlog' | 'live';
  items: DeliveredItem[];
}

/** The user clicked or dismissed these items on another of their devices: close their notifications here. */
export interface DismissedEvent {
  kind: 'dismissed';
  ids: string[];
}

/** An app took these tagged notifications back (`POST /<appid>/retract`): close what shows them here. */
export interface RetractedEvent {
  kind: 'retracted';
  tags: { appid: string; tag: string }[];
}

/** One message on the channel. */
export type DeliveryEvent = ItemsEvent | DismissedEvent | RetractedEvent;

/** What `daemon.whoami` answers. */
export interface DeviceIdentity {
  deviceId: string;
  deviceName: string;
  userId: string;
}
