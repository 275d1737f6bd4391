'use client';
/**
 * "Add a device": a one-time pairing code from the server (daemon.pairingCode)
 * with its expiry counting down, and the command that pairs a computer with
 * it. The page shows how to install the daemon (DaemonInstall) right after it.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import { CopyButton } from '@/app/components/CopyButton';
import styles from './addDevice.module.css';
import deviceStyles from './device.module.css';

interface PairingCode {
  code: string;
  expiresAt: string;
}

const noSubscription = () => () => {};

/** This page's origin, or a placeholder while rendering on the server. */
function usePageOrigin(): string {
  return useSyncExternalStore(
    noSubscription,
    () => window.location.origin,
    () => '<this server>',
  );
}

/** Seconds left until `expiresAt`, ticking every second; 0 once it has passed. */
function useSecondsLeft(expiresAt: string | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!expiresAt) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [expiresAt]);
  return expiresAt ? Math.max(0, Math.ceil((Date.parse(expiresAt) - now) / 1000)) : 0;
}

function minutesAndSeconds(seconds: number): string {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export function AddDevice({ requestPairingCode }: { requestPairingCode: () => Promise<PairingCode> }) {
  const origin = usePageOrigin();
  const [pairing, setPairing] = useState<PairingCode | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const secondsLeft = useSecondsLeft(pairing?.expiresAt ?? null);
  const live = pairing !== null && secondsLeft > 0;

  async function issue() {
    setBusy(true);
    setError(null);
    try {
      setPairing(await requestPairingCode());
    } catch (cause) {
      setError(`Could not get a pairing code (${cause instanceof Error ? cause.message : String(cause)}); try again.`);
    } finally {
      setBusy(false);
    }
  }

  const command = pairing ? `presence-daemon pair ${pairing.code} --server ${origin}` : '';
  return (
    <section className={`${deviceStyles.card} ${styles.addDevice}`} aria-labelledby="add-device-heading">
      <h2 className={styles.heading} id="add-device-heading">
        Add a device
      </h2>
      <p className={deviceStyles.hint}>A one-time code pairs another computer with your account, without an operator. It works once, for 10 minutes.</p>
      {live && (
        <div className={styles.pairing}>
          <p className={styles.code} data-testid="pairing-code" aria-label="Pairing code">
            {pairing.code}
          </p>
          <p className={deviceStyles.hint} role="timer" aria-live="off">
            Expires in {minutesAndSeconds(secondsLeft)}
          </p>
          <p className={styles.text}>On the new computer, run:</p>
          <pre className={styles.command}>
            <code data-testid="pairing-command">{command}</code>
          </pre>
          <CopyButton value={command} label="Copy command" />
        </div>
      )}
      {pairing !== null && !live && <p className={deviceStyles.hint}>That code has expired: get a new one.</p>}
      {error && (
        <p className={deviceStyles.warning} role="alert">
          {error}
        </p>
      )}
      <div className={deviceStyles.controls}>
        <button className={live ? deviceStyles.secondaryButton : deviceStyles.primaryButton} type="button" disabled={busy} onClick={() => void issue()}>
          {pairing === null ? 'Get a pairing code' : 'Get a new code'}
        </button>
      </div>
    </section>
  );
}
