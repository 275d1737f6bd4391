'use client';
/** Registers an app; its key comes back once, for the caller to show. */
import { useState } from 'react';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { useFormAction } from '../_connection/hooks.ts';
import type { CreatedApp } from '../_connection/rows.ts';
import { MAX_NAME_CODE_POINTS } from '@/shared/limits';
import { parseRedirectUris, RedirectUrisHint } from './AppRedirectUris.tsx';

/** "chat, chat-beta" → ["chat", "chat-beta"]; a trailing colon is forgiven. */
export function parseSchemes(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim().replace(/:\/*$/, ''))
    .filter(Boolean);
}

export function AppCreateForm({ onCreated }: { onCreated: (created: CreatedApp) => void }) {
  const [appid, setAppid] = useState('');
  const [name, setName] = useState('');
  const [schemes, setSchemes] = useState('');
  const [redirectUris, setRedirectUris] = useState('');
  const form = useFormAction(async (client) => {
    const created = await client.admin.apps.create.mutate({
      appid: appid.trim(),
      name: name.trim() || undefined,
      schemes: parseSchemes(schemes),
      redirectUris: parseRedirectUris(redirectUris),
    });
    setAppid('');
    setName('');
    setSchemes('');
    setRedirectUris('');
    onCreated(created);
  });

  return (
    <form className="form" onSubmit={form.onSubmit} aria-label="Create an app">
      <div className="form-row">
        <div className="field">
          <label htmlFor="app-id">App id</label>
          <input
            id="app-id"
            value={appid}
            onChange={(e) => setAppid(e.target.value)}
            required
            maxLength={40}
            spellCheck={false}
            autoComplete="off"
            aria-describedby="app-id-hint"
          />
          <p className="hint" id="app-id-hint">
            Lower-case letters, digits and dashes; it is part of the URL apps POST to.
          </p>
        </div>
        <div className="field">
          <label htmlFor="app-name">Name</label>
          <input
            id="app-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            maxLength={MAX_NAME_CODE_POINTS}
            autoComplete="off"
            aria-describedby="app-name-hint"
          />
          <p className="hint" id="app-name-hint">
            The title of its notifications; the app id when empty.
          </p>
        </div>
        <div className="field">
          <label htmlFor="app-schemes">Deep-link schemes</label>
          <input
            id="app-schemes"
            value={schemes}
            onChange={(e) => setSchemes(e.target.value)}
            spellCheck={false}
            autoComplete="off"
            placeholder="chat, chat-beta"
            aria-describedby="app-schemes-hint"
          />
          <p className="hint" id="app-schemes-hint">
            Comma-separated. Actions may then be <code>chat://…</code> links besides http(s) URLs.
          </p>
        </div>
        <div className="field">
          <label htmlFor="app-redirect-uris">Redirect URIs</label>
          <textarea
            id="app-redirect-uris"
            value={redirectUris}
            onChange={(e) => setRedirectUris(e.target.value)}
            rows={2}
            spellCheck={false}
            autoComplete="off"
            placeholder="https://chat.example/presence/callback"
            aria-describedby="app-redirect-uris-hint"
          />
          <RedirectUrisHint id="app-redirect-uris-hint" />
        </div>
      </div>
      <ErrorAlert message={form.error} testId="app-create-error" />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!form.ready || form.busy}>
          {form.busy ? 'Creating…' : 'Create app'}
        </button>
      </div>
    </form>
  );
}
