'use client';
import { useId, useState, type FormEvent } from 'react';
import { PageShell } from './PageShell';
import styles from './device.module.css';

/** Asks for the device token; `error` is why the last one was refused. */
export function SignInForm({ error, onSignIn }: { error: string | null; onSignIn: (token: string) => void }) {
  const [token, setToken] = useState('');
  const fieldId = useId();
  const hintId = useId();

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = token.trim();
    if (trimmed !== '') onSignIn(trimmed);
  };

  return (
    <PageShell>
      <section className={styles.card}>
        <h1 className={styles.title}>Sign in this device</h1>
        <p className={styles.lead}>
          This page receives your notifications while it is open, on a computer or a phone. Sign in with the device token your operator created for this device.
        </p>
        {error && (
          <p className={styles.error} role="alert">
            {error}
          </p>
        )}
        {/* POST, never GET: even a submit React did not handle must not put the token in a URL. */}
        <form className={styles.form} method="post" onSubmit={submit}>
          <label className={styles.label} htmlFor={fieldId}>
            Device token
          </label>
          <input
            id={fieldId}
            className={styles.input}
            type="password"
            name="token"
            value={token}
            onChange={(event) => setToken(event.target.value)}
            placeholder="prs_dev_…"
            autoComplete="off"
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            required
            aria-describedby={hintId}
          />
          <p id={hintId} className={styles.hint}>
            It stays on this device (in this browser) until you sign out.
          </p>
          <button className={styles.primaryButton} type="submit">
            Sign in
          </button>
        </form>
      </section>
    </PageShell>
  );
}
