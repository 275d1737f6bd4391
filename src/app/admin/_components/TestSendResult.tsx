'use client';
/**
 * What the last test send came to: the ack, the refusal an app would have got,
 * or a failed call; and which fields still show the refusal's errors.
 */
import Link from 'next/link';
import { useState } from 'react';
import { errnoTable } from '@/shared/errnos';
import type { TestSendAck, TestSendRefusal, TestSendResult } from '../_connection/rows.ts';
import { queueHref } from './QueueTable.tsx';

/** The fields a refusal can name, as `errors[].field` spells them. */
export type SendField = 'UID' | 'message' | 'action' | 'tag';

const SEND_FIELDS: readonly string[] = ['UID', 'message', 'action', 'tag'] satisfies SendField[];

const meaningOf = new Map<number, string>(errnoTable.map((row) => [row.errno, row.meaning]));

export interface SendOutcome {
  ack: TestSendAck | null;
  refusal: TestSendRefusal | null;
  /** A readable error when the call itself failed. */
  failure: string | null;
  /** The refusal's first error for a field, until the operator edits that field. */
  errorOf: (field: SendField) => string | undefined;
  showResult: (result: TestSendResult) => void;
  showFailure: (message: string) => void;
  /** Clears the outcome; given a field, only that field's error goes and the refusal stays shown. */
  clear: (field?: SendField) => void;
}

export function useSendOutcome(): SendOutcome {
  const [ack, setAck] = useState<TestSendAck | null>(null);
  const [refusal, setRefusal] = useState<TestSendRefusal | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [edited, setEdited] = useState<ReadonlySet<SendField>>(new Set());

  const fieldErrors = new Map<string, string>();
  for (const item of refusal?.errors ?? []) if (!fieldErrors.has(item.field)) fieldErrors.set(item.field, `${item.error} (errno ${item.errno})`);

  return {
    ack,
    refusal,
    failure,
    errorOf: (field) => (edited.has(field) ? undefined : fieldErrors.get(field)),
    showResult: (result) => (result.result === 'OK' ? setAck(result) : setRefusal(result)),
    showFailure: setFailure,
    clear: (field) => {
      setAck(null);
      setFailure(null);
      if (field) setEdited((fields) => new Set(fields).add(field));
      else {
        setRefusal(null);
        setEdited(new Set());
      }
    },
  };
}

/** The ack: the queue's new size and a link to it. */
export function SendAckNotice({ ack, uid }: { ack: TestSendAck; uid: string }) {
  return (
    <p role="status" className="notice" data-testid="send-ack">
      Stored. Queue size is now <strong data-testid="send-ack-queue-size">{ack.queue_size}</strong>. <Link href={queueHref(uid)}>Open the queue</Link>
    </p>
  );
}

/** The refusal with its errno's meaning; errors of fields the form has no field for are listed here. */
export function SendRefusalAlert({ refusal }: { refusal: TestSendRefusal }) {
  const otherErrors = (refusal.errors ?? []).filter((e) => !SEND_FIELDS.includes(e.field));
  return (
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
  );
}
