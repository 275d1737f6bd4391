'use client';
/**
 * The device token, kept in localStorage so a phone stays signed in. Never
 * put in a URL: it goes to the server only in the channel's connectionParams.
 */
import { useCallback, useSyncExternalStore } from 'react';

const STORAGE_KEY = 'presence.deviceToken';
const listeners = new Set<() => void>();
// Where the token lives when the browser refuses storage (private modes, policies):
// then it lasts only as long as the page.
let storageRefused = false;
let memoryToken: string | null = null;

function readToken(): string | null {
  if (storageRefused) return memoryToken;
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    storageRefused = true;
    return memoryToken;
  }
}

function writeToken(token: string | null): void {
  try {
    if (storageRefused) throw new Error('storage refused');
    if (token === null) window.localStorage.removeItem(STORAGE_KEY);
    else window.localStorage.setItem(STORAGE_KEY, token);
  } catch {
    storageRefused = true;
    memoryToken = token;
  }
  listeners.forEach((listener) => listener());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // Signing in or out in another tab of this site applies here too.
  const onStorage = (event: StorageEvent) => {
    if (event.key === STORAGE_KEY || event.key === null) listener();
  };
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

/**
 * The stored token (null when signed out) and its setter. `undefined` until
 * the browser's storage has been read: on the server and while hydrating.
 */
export function useDeviceToken(): [token: string | null | undefined, setToken: (token: string | null) => void] {
  const token = useSyncExternalStore<string | null | undefined>(subscribe, readToken, () => undefined);
  return [token, useCallback((next: string | null) => writeToken(next), [])];
}
