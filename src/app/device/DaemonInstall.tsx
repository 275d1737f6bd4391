'use client';
/**
 * How to put the desktop daemon on a computer: one npm line that installs the
 * package this server offers (src/server/http/downloadRoute.ts), then pairing
 * and the user service. The page knows its own origin only in the browser.
 */
import { useSyncExternalStore } from 'react';
import styles from './daemonInstall.module.css';

const DAEMON_PACKAGE_PATH = '/downloads/presence-daemon.tgz';

const noSubscription = () => () => {};

/** This page's origin, or null while rendering on the server. */
function usePageOrigin(): string | null {
  return useSyncExternalStore(
    noSubscription,
    () => window.location.origin,
    () => null,
  );
}

/** The install steps for a computer with Node.js 20 or later. */
export function DaemonInstall() {
  const origin = usePageOrigin() ?? '<this server>';
  return (
    <section className={styles.install} aria-labelledby="daemon-install-heading">
      <h2 className={styles.heading} id="daemon-install-heading">
        On a computer
      </h2>
      <p className={styles.text}>With Node.js 20 or later, install the Presence daemon in one line:</p>
      <pre className={styles.command}>
        <code data-testid="daemon-install-command">npm install -g {`${origin}${DAEMON_PACKAGE_PATH}`}</code>
      </pre>
      <p className={styles.text}>
        Pair it with a code from <em>Add a device</em> (<code>presence-daemon pair CODE --server {origin}</code>), then make it start with your session:
      </p>
      <pre className={styles.command}>
        <code>presence-daemon service install</code>
      </pre>
    </section>
  );
}
