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
}

/** One message on the channel. The first is always the whole backlog (possibly empty). */
export interface DeliveryEvent {
  kind: 'backlog' | 'live';
  items: DeliveredItem[];
}

/** What `daemon.whoami` answers. */
export interface DeviceIdentity {
  deviceId: string;
  deviceName: string;
  userId: string;
}
