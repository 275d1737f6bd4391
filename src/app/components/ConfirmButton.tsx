'use client';
import { useState } from 'react';

/**
 * A destructive action that asks first: the button turns into the question
 * with "Yes, …" and "Cancel". `onConfirm` may be async; the buttons wait.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  disabled = false,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => Promise<void> | void;
  disabled?: boolean;
}) {
  const [state, setState] = useState<'idle' | 'asking' | 'busy'>('idle');

  async function confirm() {
    setState('busy');
    try {
      await onConfirm();
    } finally {
      setState('idle');
    }
  }

  if (state === 'idle') {
    return (
      <button type="button" className="button button-danger-quiet" disabled={disabled} onClick={() => setState('asking')}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="confirm-question">{question}</span>
      <button type="button" className="button button-danger" disabled={state === 'busy'} onClick={() => void confirm()}>
        {state === 'busy' ? 'Working…' : confirmLabel}
      </button>
      <button type="button" className="button button-quiet" disabled={state === 'busy'} onClick={() => setState('idle')}>
        Cancel
      </button>
    </span>
  );
}
