'use client';
/**
 * Sends one notification through the same path as the REST route (validation,
 * transaction, ack log) and shows the ack, or the refusal with each offending
 * field's error next to that field.
 */
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { EmptyState } from '@/app/components/EmptyState.tsx';
import { ErrorAlert } from '@/app/components/ErrorAlert.tsx';
import { errnoTable } from '@/server/errnoTable';
import type { KoBody } from '@/server/errors';
import type { Ack } from '@/server/notifications/push';
import { useChannel } from '../_channel/ChannelProvider.tsx';
import { describeChannelError } from '../_channel/channelErrors.ts';
import { useChannelQuery } from '../_channel/hooks.ts';
import { queueHref } from './QueueTable.tsx';

/** The fields a refusal can name, as `errors[].field` spells them. */
type SendField = 'UID' | 'message' | 'action';

const MAX_CODE_POINTS = 512;

const meaningOf = new Map<number, string>(errnoTable.map((row) => [row.errno, row.meaning]));

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p id={id} role="alert" className="field-error">
      {message}
    </p>
  );
}

export function TestSendForm() {
  const client = useChannel();
  const apps = useChannelQuery((c) => c.admin.apps.list.query());
  const users = useChannelQuery((c) => c.admin.users.list.query());
  const [appid, setAppid] = useState('');
  const uids = useChannelQuery((c) => (appid ? c.admin.uids.list.query({ appid }) : Promise.resolve([])), appid);
  const [uid, setUid] = useState('');
  const [message, setMessage] = useState('');
  const [action, setAction] = useState('');
  const [sending, setSending] = useState(false);
  const [ack, setAck] = useState<Ack | null>(null);
  const [refusal, setRefusal] = useState<KoBody | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [edited, setEdited] = useState<ReadonlySet<SendField>>(new Set());

  const app = apps.data?.find((a) => a.appid === appid);
  const userName = new Map((users.data ?? []).map((u) => [u.userId, u.name]));
  const fieldErrors = new Map<string, string>();
  for (const item of refusal?.errors ?? []) if (!fieldErrors.has(item.field)) fieldErrors.set(item.field, `${item.error} (errno ${item.errno})`);
  // A field's error goes once the operator edits that field; the refusal stays above.
  const errorOf = (field: SendField) => (edited.has(field) ? undefined : fieldErrors.get(field));
  const otherErrors = (refusal?.errors ?? []).filter((e) => !['UID', 'message', 'action'].includes(e.field));

  function clearResult(field?: SendField) {
    setAck(null);
    setFailure(null);
    if (field) setEdited((fields) => new Set(fields).add(field));
    else {
      setRefusal(null);
      setEdited(new Set());
    }
  }

  async function send(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!client) return;
    setSending(true);
    clearResult();
    try {
      const result = await client.admin.testSend.mutate({ appid, uid, message, action });
      if (result.result === 'OK') setAck(result);
      else setRefusal(result);
    } catch (error) {
      setFailure(describeChannelError(error));
    } finally {
      setSending(false);
    }
  }

  if (apps.data && apps.data.length === 0) {
    return (
      <EmptyState title="No apps yet">
        Create an app and grant it a UID for a user first (<Link href="/admin/apps">Apps</Link>, <Link href="/admin/uids">UIDs</Link>).
      </EmptyState>
    );
  }

  const messageLength = [...message].length;
  const schemes = app?.schemes ?? [];

  return (
    <form className="form card form-narrow" onSubmit={(e) => void send(e)} aria-label="Test send">
      <ErrorAlert message={apps.error ?? users.error ?? uids.error} />
      <div className="form-row">
        <div className="field">
          <label htmlFor="send-app">App</label>
          <select
            id="send-app"
            value={appid}
            required
            onChange={(e) => {
              setAppid(e.target.value);
              setUid('');
              clearResult();
            }}
          >
            <option value="">{apps.data ? 'Choose an app' : 'Loading apps…'}</option>
            {(apps.data ?? []).map((a) => (
              <option key={a.appid} value={a.appid}>
                {a.name && a.name !== a.appid ? `${a.name} (${a.appid})` : a.appid}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="send-uid">UID</label>
          <select
            id="send-uid"
            value={uid}
            required
            disabled={!appid}
            aria-invalid={errorOf('UID') ? true : undefined}
            aria-describedby={errorOf('UID') ? 'send-uid-error' : 'send-uid-hint'}
            onChange={(e) => {
              setUid(e.target.value);
              clearResult('UID');
            }}
          >
            <option value="">{!appid ? 'Choose an app first' : uids.data?.length === 0 ? 'This app has no UIDs' : 'Choose a user’s UID'}</option>
            {(appid ? (uids.data ?? []) : []).map((u) => (
              <option key={u.uid} value={u.uid}>
                {`${userName.get(u.userId) ?? 'user'} — ${u.uid}`}
              </option>
            ))}
          </select>
          <FieldError id="send-uid-error" message={errorOf('UID')} />
          {appid && uids.data?.length === 0 ? (
            <p className="hint" id="send-uid-hint">
              Grant this app a UID on the <Link href="/admin/uids">UIDs</Link> page.
            </p>
          ) : null}
        </div>
      </div>

      <div className="field">
        <label htmlFor="send-message">Message</label>
        <textarea
          id="send-message"
          value={message}
          rows={3}
          required
          aria-invalid={errorOf('message') ? true : undefined}
          aria-describedby={errorOf('message') ? 'send-message-error' : 'send-message-hint'}
          onChange={(e) => {
            setMessage(e.target.value);
            clearResult('message');
          }}
        />
        <FieldError id="send-message-error" message={errorOf('message')} />
        <p className="hint" id="send-message-hint">
          {messageLength} / {MAX_CODE_POINTS} characters. Shown to the user as plain text.
        </p>
      </div>

      <div className="field">
        <label htmlFor="send-action">Action</label>
        <input
          id="send-action"
          type="text"
          value={action}
          required
          spellCheck={false}
          placeholder={schemes[0] ? `https://example.com/… or ${schemes[0]}://…` : 'https://example.com/…'}
          aria-invalid={errorOf('action') ? true : undefined}
          aria-describedby={errorOf('action') ? 'send-action-error' : 'send-action-hint'}
          onChange={(e) => {
            setAction(e.target.value);
            clearResult('action');
          }}
        />
        <FieldError id="send-action-error" message={errorOf('action')} />
        <p className="hint" id="send-action-hint">
          An http(s) URL with a host, or a deep link with a scheme this app registered
          {schemes.length ? (
            <>
              : <code>{schemes.map((s) => `${s}:`).join(' ')}</code>
            </>
          ) : app ? ' (it has none)' : ''}
          .
        </p>
      </div>

      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!client || sending}>
          {sending ? 'Sending…' : 'Send test notification'}
        </button>
      </div>

      {ack ? (
        <p role="status" className="notice" data-testid="send-ack">
          Stored. Queue size is now <strong data-testid="send-ack-queue-size">{ack.queue_size}</strong>.{' '}
          <Link href={queueHref(uid)}>Open the queue</Link>
        </p>
      ) : null}
      {refusal ? (
        <div role="alert" className="alert" data-testid="send-refusal">
          <p>
            <strong>Refused</strong>, errno {refusal.errno}
            {meaningOf.has(refusal.errno) ? ` (${meaningOf.get(refusal.errno)})` : ''}. Nothing was stored.
          </p>
          {refusal.errors?.length ? null : <p>{refusal.error}</p>}
          {otherErrors.length ? (
            <ul>
              {otherErrors.map((e) => (
                <li key={`${e.index}:${e.field}`}>
                  {e.field}: {e.error}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      <ErrorAlert message={failure} />
    </form>
  );
}
