/**
 * Native notifications. On Linux a clickable one needs a notification server
 * that supports actions: `notify-send --action … --wait` (libnotify 0.7.9 or
 * later) prints the action's name when it is clicked. Where there is none,
 * the daemon only prints (its printed line names the action to open).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { DeliveredItem } from '../shared/delivery.ts';

export interface Notifier {
  /** Shows `item`; calls `onClick` if the user clicks it. */
  show(item: DeliveredItem, onClick: () => void): void;
}

/**
 * The body as the freedesktop Notifications spec's body markup wants plain
 * text: `&`, `<` and `>` as entities, so a server that renders markup shows
 * `<b>` as written and never sees a link it did not get from us.
 */
export function bodyMarkup(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * notify-send reads backslash escapes in the body (`\n`, `\033`: GLib's
 * g_strcompress), so a literal backslash is passed doubled.
 */
function notifySendBody(text: string): string {
  return bodyMarkup(text).replaceAll('\\', '\\\\');
}

/** libnotify's notify-send, kept waiting for a click. The summary is plain text to the server, passed as it is. */
export class NotifySend implements Notifier {
  show(item: DeliveredItem, onClick: () => void): void {
    const args = ['--app-name=Presence', '--action=default=Open', '--wait', '--', item.appName, notifySendBody(item.message)];
    const child = spawn('notify-send', args, {
      stdio: ['ignore', 'pipe', 'ignore'],
      shell: false,
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', () => undefined);
    child.once('close', () => {
      if (output.trim() === 'default') onClick();
    });
  }
}

/** The best notifier this machine has, or null (print only). */
export function systemNotifier(env: NodeJS.ProcessEnv): Notifier | null {
  if (process.platform !== 'linux' || !env.DBUS_SESSION_BUS_ADDRESS) return null;
  const version = spawnSync('notify-send', ['--version'], { encoding: 'utf8' });
  const match = /(\d+)\.(\d+)\.(\d+)/.exec(version.stdout ?? '');
  if (version.status !== 0 || !match) return null;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  const supportsActions = major > 0 || minor > 7 || (minor === 7 && patch >= 9);
  return supportsActions ? new NotifySend() : null;
}
