'use client';
/** An app's redirect URIs for the grant page: shown in the apps table, and edited in place. */
import { useState } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { MAX_REDIRECT_URIS_PER_APP } from '@/shared/limits';
import { useFormAction } from '../_connection/hooks.ts';

/** One URI a line; blank lines and surrounding spaces are ignored. */
export function parseRedirectUris(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

export function RedirectUrisHint({ id }: { id: string }) {
  return (
    <p className="hint" id={id}>
      One a line, at most {MAX_REDIRECT_URIS_PER_APP}: where the grant page may send users back, matched exactly. https, or http on 127.0.0.1, [::1] or
      localhost.
    </p>
  );
}

/** The list, and an Edit that replaces it (saved through the same rule as `presence app redirect-uris`). */
export function AppRedirectUris({ appid, uris, onSaved }: { appid: string; uris: string[]; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const form = useFormAction(async (client) => {
    await client.admin.apps.setRedirectUris.mutate({ appid, redirectUris: parseRedirectUris(text) });
    setEditing(false);
    onSaved();
  });

  if (!editing) {
    return (
      <div>
        {uris.length ? (
          <span className="chips" data-testid="redirect-uris">
            {uris.map((uri) => (
              <code key={uri} className="chip">
                {uri}
              </code>
            ))}
          </span>
        ) : (
          <span className="muted">none: no grant page</span>
        )}
        <button
          type="button"
          className="button button-quiet"
          onClick={() => {
            setText(uris.join('\n'));
            setEditing(true);
          }}
          aria-label={`Edit the redirect URIs of ${appid}`}
        >
          Edit
        </button>
      </div>
    );
  }
  const fieldId = `redirect-uris-${appid}`;
  return (
    <form className="form" onSubmit={form.onSubmit} aria-label={`Redirect URIs of ${appid}`}>
      <label htmlFor={fieldId} className="visually-hidden">
        Redirect URIs of {appid}
      </label>
      <textarea id={fieldId} value={text} onChange={(e) => setText(e.target.value)} rows={3} spellCheck={false} aria-describedby={`${fieldId}-hint`} />
      <RedirectUrisHint id={`${fieldId}-hint`} />
      <ErrorAlert message={form.error} testId="redirect-uris-error" />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!form.ready || form.busy}>
          {form.busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="button button-quiet" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
