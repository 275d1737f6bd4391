/**
 * What a notification's action may be: an http(s) URL with a host, or a deep
 * link `<scheme>:<rest>` whose scheme the app registered. Nothing else: above
 * all no scheme that runs code or reads local data in a browser. The server
 * applies these rules; the daemon and the device page apply them again.
 */
import { MAX_SCHEME_LENGTH } from './limits.ts';

/**
 * Schemes that are refused always, even if an app asks to register them: their
 * handlers run code, open local or network files, or reach a browser's or an
 * OS's internals (README, "Sending notifications", lists them).
 */
export const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set([
  // Code and content in the browser itself
  'javascript',
  'vbscript',
  'livescript',
  'data',
  'blob',
  'filesystem',
  'about',
  'view-source',
  'jar',
  'wyciwyg',
  'resource',
  'chrome',
  'edge',
  'opera',
  'brave',
  'vivaldi',
  'devtools',
  'safari-extension',
  // Local and network files (a click can mount a share or leak Windows credentials)
  'file',
  'smb',
  'cifs',
  'nfs',
  'afp',
  'dav',
  'davs',
  'webdav',
  'sftp',
  // Windows: shell folders, the help centre, Internet Explorer's archive and resource schemes, Windows Search
  'shell',
  'hcp',
  'res',
  'its',
  'mk',
  'mhtml',
  'search',
  'search-ms',
  // Android intents and content, iOS app installs, macOS scripts and help, Linux help, Java Web Start, telnet
  'intent',
  'android-app',
  'content',
  'itms-services',
  'applescript',
  'help',
  'ghelp',
  'x-man-page',
  'jnlp',
  'jnlps',
  'telnet',
]);

/**
 * Scheme families refused whole: Windows' `ms-…` handlers (ms-msdt,
 * ms-officecmd, ms-word and the other Office schemes, ms-settings,
 * ms-appinstaller, ms-its, …), `microsoft…` (microsoft-edge), and browser
 * extension schemes (`chrome-extension`, `chrome-untrusted`, `moz-extension`, …).
 */
const FORBIDDEN_SCHEME_PREFIXES: readonly string[] = ['ms-', 'microsoft', 'chrome-', 'moz-'];

/** True if `scheme` (lower case) is never allowed in an action, registered or not. */
export function isForbiddenScheme(scheme: string): boolean {
  return FORBIDDEN_SCHEMES.has(scheme) || FORBIDDEN_SCHEME_PREFIXES.some((prefix) => scheme.startsWith(prefix));
}

/** RFC 3986 scheme syntax, lower case as stored. */
const schemeSyntax = /^[a-z][a-z0-9+.-]*$/;

/** True if `scheme` can be registered by an app for its deep links. */
export function isRegistrableScheme(scheme: string): boolean {
  return schemeSyntax.test(scheme) && scheme.length <= MAX_SCHEME_LENGTH && !isForbiddenScheme(scheme) && scheme !== 'http' && scheme !== 'https';
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
  if (isForbiddenScheme(scheme)) return `scheme "${scheme}:" is never allowed`;
  if (!schemes.includes(scheme)) return `scheme "${scheme}:" is not registered for this app`;
  if (colon === action.length - 1) return 'deep link has nothing after the scheme';
  return null;
}

/** The authority of an http(s) URL: what comes between "//" and the path (a backslash ends it too, as in browsers). */
const webAuthority = /^https?:\/\/([^/?#\\]*)/i;

function webUrlRefusal(action: string): string | null {
  // `new URL('http:foo')` succeeds; a usable web link has "//" and a host.
  const authority = webAuthority.exec(action)?.[1];
  if (!authority) return 'http(s) action must have the form http(s)://host/…';
  // `https://good.example@evil.example/` opens evil.example: no user name or password, not even an empty one.
  if (authority.includes('@')) return 'http(s) action must not carry a user name or password (user@host)';
  let url: URL;
  try {
    url = new URL(action);
  } catch {
    return 'action is not a valid URL';
  }
  if (url.hostname === '') return 'http(s) action must name a host';
  if (url.username !== '' || url.password !== '') return 'http(s) action must not carry a user name or password (user@host)';
  return null;
}
