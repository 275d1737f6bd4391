'use client';
/** Hooks over the dashboard's shared connection: live `watch` subscriptions and one-shot queries. */
import { useCallback, useEffect, useEffectEvent, useState, type FormEvent } from 'react';
import type { ChannelClient } from '@/app/lib/channelClient';
import { useConnection } from './ConnectionProvider.tsx';
import { describeCallError } from './callErrors.ts';

interface Unsubscribable {
  unsubscribe(): void;
}

/** The callbacks a `watch` subscription is given. */
export interface WatchHandlers<T> {
  onData: (value: T) => void;
  onError: (error: unknown) => void;
}

export interface WatchState<T> {
  /** The latest value sent, undefined until the first. */
  data: T | undefined;
  /** A readable error once the subscription failed. */
  error: string | null;
  /** Subscribes again, which makes the server send the current value at once. */
  restart: () => void;
}

/**
 * Subscribes to an `admin.*.watch` procedure while the component is mounted:
 * `useWatch((client, handlers) => client.admin.queues.watch.subscribe(undefined, handlers))`.
 * `key` names the subscription; a new key subscribes again.
 */
export function useWatch<T>(subscribe: (client: ChannelClient, handlers: WatchHandlers<T>) => Unsubscribable, key = ''): WatchState<T> {
  const client = useConnection();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const subscribeNow = useEffectEvent(subscribe);

  useEffect(() => {
    if (!client) return;
    const subscription = subscribeNow(client, {
      onData: (value) => {
        setData(value);
        setError(null);
      },
      onError: (cause) => setError(describeCallError(cause)),
    });
    return () => subscription.unsubscribe();
  }, [client, key, generation]);

  const restart = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, restart };
}

export interface QueryState<T> {
  data: T | undefined;
  error: string | null;
  /** Loads again; the previous data stays shown meanwhile. */
  reload: () => void;
}

/**
 * Runs a query once the channel is there, and again on `reload()` or when
 * `key` changes: `useConnectionQuery((client) => client.admin.apps.list.query())`.
 */
export function useConnectionQuery<T>(load: (client: ChannelClient) => Promise<T>, key = ''): QueryState<T> {
  const client = useConnection();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const loadNow = useEffectEvent(load);

  useEffect(() => {
    if (!client) return;
    let current = true;
    loadNow(client).then(
      (value) => {
        if (!current) return;
        setData(value);
        setError(null);
      },
      (cause: unknown) => {
        if (current) setError(describeCallError(cause));
      },
    );
    return () => {
      current = false;
    };
  }, [client, key, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, reload };
}

export interface FormAction {
  /** The channel is open, so the form can be sent. */
  ready: boolean;
  busy: boolean;
  /** A readable error from the last attempt. */
  error: string | null;
  /** The form's onSubmit. */
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
}

/** A form that runs one call on the channel: its busy and error state, and its submit handler. */
export function useFormAction(run: (client: ChannelClient) => Promise<void>): FormAction {
  const client = useConnection();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!client) return;
    setBusy(true);
    setError(null);
    run(client)
      .catch((cause: unknown) => setError(describeCallError(cause)))
      .finally(() => setBusy(false));
  };
  return { ready: client !== null, busy, error, onSubmit };
}
