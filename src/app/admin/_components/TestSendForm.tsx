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
import { useConnection } from '../_connection/ConnectionProvider.tsx';
import { describeCallError } from '../_connection/callErrors.ts';
import { useConnectionQuery } from '../_connection/hooks.ts';
import { ActionField, AppField, MessageField, TagField, UidField } from './TestSendFields.tsx';
import { SendAckNotice, SendRefusalAlert, useSendOutcome } from './TestSendResult.tsx';

export function TestSendForm() {
  const client = useConnection();
  const apps = useConnectionQuery((c) => c.admin.apps.list.query());
  const users = useConnectionQuery((c) => c.admin.users.list.query());
  const [appid, setAppid] = useState('');
  const uids = useConnectionQuery((c) => (appid ? c.admin.uids.list.query({ appid }) : Promise.resolve([])), appid);
  const [uid, setUid] = useState('');
  const [message, setMessage] = useState('');
  const [action, setAction] = useState('');
  const [tag, setTag] = useState('');
  const [sending, setSending] = useState(false);
  const outcome = useSendOutcome();

  const app = apps.data?.find((a) => a.appid === appid);
  const userName = new Map((users.data ?? []).map((u) => [u.userId, u.name]));

  async function send(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!client) return;
    setSending(true);
    outcome.clear();
    try {
      outcome.showResult(await client.admin.testSend.mutate({ appid, uid, message, action, ...(tag ? { tag } : {}) }));
    } catch (error) {
      outcome.showFailure(describeCallError(error));
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

  return (
    <form className="form card form-narrow" onSubmit={(e) => void send(e)} aria-label="Test send">
      <ErrorAlert message={apps.error ?? users.error ?? uids.error} />
      <div className="form-row">
        <AppField
          apps={apps.data}
          value={appid}
          onChange={(value) => {
            setAppid(value);
            setUid('');
            outcome.clear();
          }}
        />
        <UidField
          appid={appid}
          uids={uids.data}
          userName={userName}
          value={uid}
          error={outcome.errorOf('UID')}
          onChange={(value) => {
            setUid(value);
            outcome.clear('UID');
          }}
        />
      </div>
      <MessageField
        value={message}
        error={outcome.errorOf('message')}
        onChange={(value) => {
          setMessage(value);
          outcome.clear('message');
        }}
      />
      <ActionField
        app={app}
        value={action}
        error={outcome.errorOf('action')}
        onChange={(value) => {
          setAction(value);
          outcome.clear('action');
        }}
      />
      <TagField
        value={tag}
        error={outcome.errorOf('tag')}
        onChange={(value) => {
          setTag(value);
          outcome.clear('tag');
        }}
      />

      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!client || sending}>
          {sending ? 'Sending…' : 'Send test notification'}
        </button>
      </div>

      {outcome.ack ? <SendAckNotice ack={outcome.ack} uid={uid} /> : null}
      {outcome.refusal ? <SendRefusalAlert refusal={outcome.refusal} /> : null}
      <ErrorAlert message={outcome.failure} />
    </form>
  );
}
