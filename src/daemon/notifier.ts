/**
 * Native notifications. On Linux a clickable one needs a notification server
 * that supports actions: `notify-send --action … --wait` (libnotify 0.7.9 or
 * later) prints the action's name when it is clicked. Where there is none,
 * the daemon only prints (its printed line names the action to open).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { DeliveredItem } from '../server/delivery/items.ts';

export interface Notifier {
  /** Shows `item`; calls `onClick` if the user clicks it. */
  show(item: DeliveredItem, onClick: () => void): void;
}

/** libnotify's notify-send, kept waiting for a click. */
export class NotifySend implements Notifier {
  show(item: DeliveredItem, onClick: () => void): void {
    const child = spawn('notify-send', ['--app-name=Presence', '--action=default=Open', '--wait', '--', item.appName, item.message], {
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
