/**
 * How the device page treats a notification's action. The server refuses
 * bad actions already; the page checks again, so that nothing it receives
 * can become a link to a scheme that runs code or reads local data.
 */
import { actionRefusal, isForbiddenScheme } from '@/shared/action';

/** `web`: an http(s) URL; `deepLink`: `<scheme>:<rest>` for an app; `text`: never followed. */
export type ActionKind = 'web' | 'deepLink' | 'text';

export function actionKind(action: string): ActionKind {
  const colon = action.indexOf(':');
  const scheme = colon > 0 ? action.slice(0, colon).toLowerCase() : '';
  if (isForbiddenScheme(scheme)) return 'text';
  // The page does not know which schemes the app registered (the server
  // checked that): accept the action's own scheme, and apply every other rule.
  if (actionRefusal(action, [scheme]) !== null) return 'text';
  return scheme === 'http' || scheme === 'https' ? 'web' : 'deepLink';
}

/** Follows an action on a click: a web URL in a new tab, a deep link in place (the OS hands it to its app). */
export function openAction(action: string): void {
  const kind = actionKind(action);
  if (kind === 'web') window.open(action, '_blank', 'noopener');
  else if (kind === 'deepLink') window.location.assign(action);
}
