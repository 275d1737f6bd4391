'use client';
/**
 * "Apps that can notify you": the user's grants (daemon.grants.list), each
 * with its app's name, since when, and Revoke (daemon.grants.revoke, as
 * `presence uid revoke`). App names come from operators and apps: React text only.
 */
import { useCallback, useEffect, useState } from 'react';
import styles from './appGrants.module.css';
import deviceStyles from './device.module.css';

/** One grant as the page shows it. */
export interface AppGrant {
  uid: string;
  appid: string;
  appName: string;
  grantedAt: string;
}

const sinceFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function reason(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

export function AppGrants({
  connected,
  listGrants,
  revokeGrant,
}: {
  /** Loads (again) whenever the channel (re)connects. */
  connected: boolean;
  listGrants: () => Promise<AppGrant[]>;
  revokeGrant: (uid: string) => Promise<unknown>;
}) {
  const [grants, setGrants] = useState<AppGrant[] | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setGrants(await listGrants());
      setError(null);
    } catch (cause) {
      setError(`Could not load your apps (${reason(cause)}).`);
    }
  }, [listGrants]);

  useEffect(() => {
    if (!connected) return;
    void load();
    // An app granted in another tab (its consent page) shows up when this one is looked at again.
    const onVisible = () => {
      if (document.visibilityState === 'visible') void load();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, [connected, load]);

  async function revoke(grant: AppGrant) {
    setBusy(true);
    setError(null);
    try {
      await revokeGrant(grant.uid);
      setConfirming(null);
    } catch (cause) {
      setError(`Could not revoke ${grant.appName} (${reason(cause)}); try again.`);
    } finally {
      setBusy(false);
      await load();
    }
  }

  return (
    <section className={`${deviceStyles.card} ${styles.grants}`} aria-labelledby="app-grants-heading">
      <h2 className={styles.heading} id="app-grants-heading">
        Apps that can notify you
      </h2>
      <p className={deviceStyles.hint}>Revoking stops an app from notifying you and deletes what it has queued for you; it can only ask you again.</p>
      {grants === null && !error && <p className={deviceStyles.hint}>Loading…</p>}
      {grants !== null && grants.length === 0 && <p className={styles.none}>No app can notify you.</p>}
      {grants !== null && grants.length > 0 && (
        <ul className={styles.list} aria-labelledby="app-grants-heading">
          {grants.map((grant) => (
            <li className={styles.grant} key={grant.uid} data-testid="app-grant">
              <div className={styles.grantText}>
                <span className={styles.appName}>{grant.appName}</span>
                <span className={deviceStyles.hint}>
                  since <time dateTime={grant.grantedAt}>{sinceFormat.format(new Date(grant.grantedAt))}</time>
                </span>
              </div>
              {confirming === grant.uid ? (
                <div className={styles.confirm} role="group" aria-label={`Revoke ${grant.appName}?`}>
                  <span className={styles.question}>Stop {grant.appName} from notifying you?</span>
                  <button className={deviceStyles.primaryButton} type="button" disabled={busy} onClick={() => void revoke(grant)}>
                    Yes, revoke
                  </button>
                  <button className={deviceStyles.secondaryButton} type="button" disabled={busy} onClick={() => setConfirming(null)}>
                    Cancel
                  </button>
                </div>
              ) : (
                <button className={deviceStyles.secondaryButton} type="button" aria-label={`Revoke ${grant.appName}`} onClick={() => setConfirming(grant.uid)}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p className={deviceStyles.warning} role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
