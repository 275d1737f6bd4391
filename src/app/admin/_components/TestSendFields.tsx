'use client';
/**
 * The fields of the test send form. Those a refusal can name (UID, message,
 * action, tag) show its error for them beside the field.
 */
import Link from 'next/link';
import { MAX_TEXT_CODE_POINTS } from '@/shared/limits';
import type { AppRow, UidRow } from '../_connection/rows.ts';

/** The part of a field that a refusal can mark: its value, its error (if any), and a change. */
interface CheckedFieldProps {
  value: string;
  error: string | undefined;
  onChange: (value: string) => void;
}

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p id={id} role="alert" className="field-error">
      {message}
    </p>
  );
}

/** The app to send as; undefined `apps` while they load. */
export function AppField({ apps, value, onChange }: { apps: AppRow[] | undefined; value: string; onChange: (appid: string) => void }) {
  return (
    <div className="field">
      <label htmlFor="send-app">App</label>
      <select id="send-app" value={value} required onChange={(e) => onChange(e.target.value)}>
        <option value="">{apps ? 'Choose an app' : 'Loading apps…'}</option>
        {(apps ?? []).map((a) => (
          <option key={a.appid} value={a.appid}>
            {a.name && a.name !== a.appid ? `${a.name} (${a.appid})` : a.appid}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The UID to send to, among those of the chosen app, each labelled with its user's name. */
export function UidField({
  appid,
  uids,
  userName,
  value,
  error,
  onChange,
}: CheckedFieldProps & { appid: string; uids: UidRow[] | undefined; userName: ReadonlyMap<string, string> }) {
  return (
    <div className="field">
      <label htmlFor="send-uid">UID</label>
      <select
        id="send-uid"
        value={value}
        required
        disabled={!appid}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'send-uid-error' : 'send-uid-hint'}
        onChange={(e) => onChange(e.target.value)}
      >
        <option value="">{!appid ? 'Choose an app first' : uids?.length === 0 ? 'This app has no UIDs' : 'Choose a user’s UID'}</option>
        {(appid ? (uids ?? []) : []).map((u) => (
          <option key={u.uid} value={u.uid}>
            {`${userName.get(u.userId) ?? 'user'} — ${u.uid}`}
          </option>
        ))}
      </select>
      <FieldError id="send-uid-error" message={error} />
      {appid && uids?.length === 0 ? (
        <p className="hint" id="send-uid-hint">
          Grant this app a UID on the <Link href="/admin/uids">UIDs</Link> page.
        </p>
      ) : null}
    </div>
  );
}

/** The message, with its length in code points against the limit. */
export function MessageField({ value, error, onChange }: CheckedFieldProps) {
  return (
    <div className="field">
      <label htmlFor="send-message">Message</label>
      <textarea
        id="send-message"
        value={value}
        rows={3}
        required
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'send-message-error' : 'send-message-hint'}
        onChange={(e) => onChange(e.target.value)}
      />
      <FieldError id="send-message-error" message={error} />
      <p className="hint" id="send-message-hint">
        {[...value].length} / {MAX_TEXT_CODE_POINTS} characters. Shown to the user as plain text.
      </p>
    </div>
  );
}

/** The action, with the deep-link schemes the chosen app registered (none while no app is chosen). */
export function ActionField({ app, value, error, onChange }: CheckedFieldProps & { app: AppRow | undefined }) {
  const schemes = app?.schemes ?? [];
  return (
    <div className="field">
      <label htmlFor="send-action">Action</label>
      <input
        id="send-action"
        type="text"
        value={value}
        required
        spellCheck={false}
        placeholder={schemes[0] ? `https://example.com/… or ${schemes[0]}://…` : 'https://example.com/…'}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'send-action-error' : 'send-action-hint'}
        onChange={(e) => onChange(e.target.value)}
      />
      <FieldError id="send-action-error" message={error} />
      <p className="hint" id="send-action-hint">
        An http(s) URL with a host, or a deep link with a scheme this app registered
        {schemes.length ? (
          <>
            : <code>{schemes.map((s) => `${s}:`).join(' ')}</code>
          </>
        ) : app ? (
          ' (it has none)'
        ) : (
          ''
        )}
        .
      </p>
    </div>
  );
}

/** An optional tag: a later send with the same tag replaces this one in the queue and on the user's devices. */
export function TagField({ value, error, onChange }: CheckedFieldProps) {
  return (
    <div className="field">
      <label htmlFor="send-tag">Tag (optional)</label>
      <input
        id="send-tag"
        type="text"
        value={value}
        maxLength={64}
        spellCheck={false}
        placeholder="unread:general"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'send-tag-error' : 'send-tag-hint'}
        onChange={(e) => onChange(e.target.value)}
      />
      <FieldError id="send-tag-error" message={error} />
      <p className="hint" id="send-tag-hint">
        1 to 64 of <code>A–Z a–z 0–9 . _ : -</code>. A later item with the same tag replaces this one, pending or shown.
      </p>
    </div>
  );
}
