/**
 * The Presence daemon: holds the channel open, shows each notification once,
 * and acknowledges what it has dispatched. The channel work is the shared
 * daemon core (src/shared/daemonCore.ts); this file prints, notifies and exits.
 */
import WebSocket from 'ws';
import type { AppRouter } from '../server/trpc/routers/_app.ts';
import { channelUrl } from '../shared/channel.ts';
import { createChannelClient } from '../shared/channelClient.ts';
import { startDaemonCore } from '../shared/daemonCore.ts';
import type { DeliveredItem } from '../shared/delivery.ts';
import type { Opener } from './actions.ts';
import { tagKey, type Notifier } from './notifier.ts';
import { forTerminal } from './terminal.ts';

export interface DaemonOptions {
  /** http(s) URL of the server; the channel is its `/presence`. */
  server: string;
  token: string;
  /** Native notifications, or null to print only. */
  notifier: Notifier | null;
  opener: Opener;
  /** Where lines for the user go (stdout); they get no terminal control characters. */
  print: (line: string) => void;
  /** Where status and errors go (stderr); no terminal control characters either. */
  report: (line: string) => void;
  json?: boolean;
  once?: boolean;
  /** With `once`: how long to wait for the backlog to be received and acknowledged before giving up (exit 3). */
  onceTimeoutMs?: number;
  /** Stops the daemon (exit code 0). */
  signal?: AbortSignal;
}

/** A handshake that gets no answer is abandoned after this long (then retried with backoff). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** `ws` with a handshake timeout: without one, a server that accepts the TCP connection but never answers would stall reconnects forever. */
class DaemonWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
  }
}

/** Exit codes. */
export const EXIT_OK = 0;
export const EXIT_REFUSED = 2;
/** `--once` could not reach the server (or have the backlog acknowledged) in time. */
export const EXIT_UNREACHABLE = 3;

/** Closing a client that never connected may wait for a connect attempt; the exit does not. */
const CLOSE_GRACE_MS = 2_000;

/** (app, tag) pairs printed lately, so that a newer item of one says it replaces it; the oldest are forgotten past this. */
const MAX_TAGS_REMEMBERED = 10_000;

function describe(item: DeliveredItem, replaces: boolean): string {
  return `[${item.appName}] ${item.message}  → ${item.action}${replaces ? `  (replaces ${item.tag})` : ''}`;
}

/** Runs until stopped (0), until the server refuses the token (2), or until `once` gives up (3). */
export function runDaemon(options: DaemonOptions): Promise<number> {
  const { notifier, opener } = options;
  // Everything printed may carry text from apps and operators.
  const print = (line: string) => options.print(forTerminal(line));
  const report = (line: string) => options.report(forTerminal(line));
  let connectedOnce = false;

  const channel = createChannelClient<AppRouter>({
    url: channelUrl(options.server),
    WebSocket: DaemonWebSocket as unknown as typeof globalThis.WebSocket,
    token: options.token,
    onOpen: () => {
      if (connectedOnce) report('reconnected');
      connectedOnce = true;
    },
    onClose: (code) => {
      // 4401: the refusal is reported once, by the core's onRefused.
      if (code !== 4401) report(`connection closed${code ? ` (${code})` : ''}; reconnecting`);
    },
  });

  // The (app, tag) pairs printed and not retracted since, by app id and tag.
  const printedTags = new Set<string>();
  const replacesPrinted = (item: DeliveredItem): boolean => {
    if (item.tag === undefined) return false;
    const key = tagKey(item.appid, item.tag);
    const replaces = printedTags.delete(key);
    printedTags.add(key);
    if (printedTags.size > MAX_TAGS_REMEMBERED) printedTags.delete(printedTags.values().next().value as string);
    return replaces;
  };

  // Every item is printed; the notifier shows a bounded number of popups for them.
  const show = (items: DeliveredItem[]) => {
    for (const item of items) {
      const replaces = replacesPrinted(item);
      print(options.json ? JSON.stringify(item) : describe(item, replaces));
    }
    if (!options.once) notifier?.show(items);
  };
  const retract = (tags: { appid: string; tag: string }[]) => {
    for (const { appid, tag } of tags) {
      printedTags.delete(tagKey(appid, tag));
      print(options.json ? JSON.stringify({ kind: 'retracted', appid, tag }) : `[${appid}] retracted ${tag}`);
    }
    if (!options.once) notifier?.retract(tags);
  };
  notifier?.on('open', (item) => {
    opener.open(item.action).catch((error: Error) => report(`cannot open ${item.action}: ${error.message}`));
  });
  notifier?.on('failed', (error) => report(`notification server: ${error.message}`));

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      clearTimeout(onceTimer);
      core.stop();
      notifier?.end();
      const grace = setTimeout(() => resolve(code), CLOSE_GRACE_MS);
      void channel.close().finally(() => {
        clearTimeout(grace);
        resolve(code);
      });
    };
    const onceTimeoutMs = options.once ? options.onceTimeoutMs : undefined;
    const onceTimer =
      onceTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            report(`no answer from ${options.server} within ${onceTimeoutMs / 1000} s; giving up`);
            finish(EXIT_UNREACHABLE);
          }, onceTimeoutMs);

    const core = startDaemonCore({
      client: channel.client,
      show,
      onDismissed: (ids) => notifier?.close(ids),
      onRetracted: retract,
      onStarted: () => report(`connected to ${options.server}`),
      // --once stops after the backlog is acked.
      onAcked: (event) => {
        if (options.once && event.kind === 'backlog') finish(EXIT_OK);
      },
      onAckFailed: (error) => report(`acknowledgement failed (the items will come again): ${error.message}`),
      onSubscriptionError: (error, retryInMs) => report(`channel error: ${error.message}; subscribing again in ${Math.round(retryInMs / 100) / 10} s`),
      onRefused: (error) => {
        report(`the server refused this device: ${error.message}`);
        finish(EXIT_REFUSED);
      },
    });
    // What the user clicked or dismissed here closes on their other devices.
    notifier?.on('dismissed', (ids) => core.dismiss(ids));
    options.signal?.addEventListener('abort', () => finish(EXIT_OK), { once: true });
  });
}
