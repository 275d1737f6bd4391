'use client';
/**
 * The device page: the sign-in form while no token is stored, the daemon
 * once one is. A refused token brings the form back with the reason.
 */
import { useState } from 'react';
import { DaemonView } from './DaemonView';
import styles from './device.module.css';
import { useDeviceToken } from './deviceToken';
import { PageShell } from './PageShell';
import { SignInForm } from './SignInForm';

export function DeviceApp() {
  const [token, setToken] = useDeviceToken();
  const [refusal, setRefusal] = useState<string | null>(null);

  // Until the browser's storage is read (this also keeps the form from
  // existing before hydration, when a submit would not be handled by React).
  if (token === undefined) {
    return (
      <PageShell>
        <p className={styles.loading}>Loading…</p>
        <noscript>
          <p className={styles.error}>This page needs JavaScript: it keeps a live connection open to receive your notifications.</p>
        </noscript>
      </PageShell>
    );
  }
  if (token === null) {
    return (
      <SignInForm
        error={refusal}
        onSignIn={(next) => {
          setRefusal(null);
          setToken(next);
        }}
      />
    );
  }
  return (
    <DaemonView
      key={token}
      token={token}
      onSignOut={() => setToken(null)}
      onRefused={(message) => {
        setRefusal(message);
        setToken(null);
      }}
    />
  );
}
