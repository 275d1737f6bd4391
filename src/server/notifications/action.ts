/**
 * What a notification's action may be: an http(s) URL with a host, or a deep
 * link `<scheme>:<rest>` whose scheme the app registered. Nothing else: above
 * all no scheme that runs code or reads local data in a browser.
 */

/** Schemes that are refused always, even if an app asks to register them. */
export const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set(['javascript', 'data', 'file', 'vbscript', 'blob', 'about', 'filesystem']);

/** RFC 3986 scheme syntax, lower case as stored. */
const schemeSyntax = /^[a-z][a-z0-9+.-]*$/;

/** True if `scheme` can be registered by an app for its deep links. */
export function isRegistrableScheme(scheme: string): boolean {
  return schemeSyntax.test(scheme) && scheme.length <= 32 && !FORBIDDEN_SCHEMES.has(scheme) && scheme !== 'http' && scheme !== 'https';
}

// Control characters, white space and invisible formatting characters (such
// as a right-to-left override) never belong in an action: they hide what a
// user would open and confuse URL parsers.
const unsafeCharacters = /[\u0000-\u0020\u007f-\u009f\u2028\u2029\p{Cf}]/u;

/**
 * Why `action` is not allowed for an app with these deep-link `schemes`, or
 * null when it is.
 */
export function actionRefusal(action: string, schemes: readonly string[]): string | null {
  if (unsafeCharacters.test(action)) return 'action must not contain spaces or control characters';
  const colon = action.indexOf(':');
  const scheme = colon > 0 ? action.slice(0, colon).toLowerCase() : '';
  if (!schemeSyntax.test(scheme)) return 'action must be an http(s) URL or a deep link <scheme>:<rest>';
  if (scheme === 'http' || scheme === 'https') return webUrlRefusal(action);
  if (FORBIDDEN_SCHEMES.has(scheme)) return `scheme "${scheme}:" is never allowed`;
  if (!schemes.includes(scheme)) return `scheme "${scheme}:" is not registered for this app`;
  if (colon === action.length - 1) return 'deep link has nothing after the scheme';
  return null;
}

function webUrlRefusal(action: string): string | null {
  // `new URL('http:foo')` succeeds; a usable web link has "//" and a host.
  if (!/^https?:\/\/[^/?#]/i.test(action)) return 'http(s) action must have the form http(s)://host/…';
  let url: URL;
  try {
    url = new URL(action);
  } catch {
    return 'action is not a valid URL';
  }
  if (url.hostname === '') return 'http(s) action must name a host';
  return null;
}
