import type { Metadata } from 'next';
import { CardPage } from '@/app/components/CardPage.tsx';

export const metadata: Metadata = { title: 'Sign in · Presence' };

/**
 * The operator's sign-in. A plain form: the custom server checks the token,
 * sets the session cookie and redirects back here with `?error=` on failure.
 */
export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { error } = await searchParams;
  return (
    <CardPage title="Operator sign-in">
      <p className="lead">The dashboard shows live queues, acks and refusals, and manages apps, users, devices and UIDs.</p>

      {error === 'invalid' ? (
        <p role="alert" className="alert">
          That token is not valid.
        </p>
      ) : null}
      {error === 'unconfigured' ? (
        <div role="alert" className="alert">
          <p>Sign-in is not available: this server has no operator token.</p>
          <p>
            Set <code>ADMIN_TOKEN</code> in the server&rsquo;s environment to a long random string and restart it. On the embedded default (no{' '}
            <code>DATABASE_URL</code>) one is generated and kept in <code>admin-token</code> in the data folder.
          </p>
        </div>
      ) : null}

      <form method="post" action="/admin/login" className="form">
        <div className="field">
          <label htmlFor="token">Operator token</label>
          <input id="token" name="token" type="password" autoComplete="current-password" required autoFocus spellCheck={false} />
          <p className="hint">
            The <code>ADMIN_TOKEN</code> of this server; <code>npm start</code> prints where it is kept.
          </p>
        </div>
        <button type="submit" className="button button-primary">
          Sign in
        </button>
      </form>
    </CardPage>
  );
}
