/**
 * The rule for the redirect URIs an app registers for the grant page (README,
 * "Consent"): the CLI, the dashboard and the domain all check with it.
 */
import { MAX_REDIRECT_URI_LENGTH, MAX_REDIRECT_URIS_PER_APP } from './limits.ts';

/** Hosts where plain http is allowed, for development on the same machine. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Why `uri` cannot be registered as a redirect URI, or null when it can. */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length === 0) return 'a redirect URI must not be empty';
  if (uri.length > MAX_REDIRECT_URI_LENGTH) return `a redirect URI is at most ${MAX_REDIRECT_URI_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${JSON.stringify(uri)} is not an absolute URL`;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    return `${JSON.stringify(uri)}: only https, or http on 127.0.0.1, [::1] or localhost`;
  }
  if (uri.includes('#')) return `${JSON.stringify(uri)}: a redirect URI has no fragment (#…)`;
  if (url.username !== '' || url.password !== '') return `${JSON.stringify(uri)}: a redirect URI has no user name or password`;
  // Matching is byte for byte, so only one spelling of each URI may be registered: the normal one.
  if (url.href !== uri) return `${JSON.stringify(uri)} is not in its normal form: register ${JSON.stringify(url.href)}`;
  return null;
}

/** Why this list of redirect URIs cannot be registered, or null; duplicates count once. */
export function redirectUrisProblem(uris: readonly string[]): string | null {
  const distinct = [...new Set(uris)];
  if (distinct.length > MAX_REDIRECT_URIS_PER_APP) return `at most ${MAX_REDIRECT_URIS_PER_APP} redirect URIs per app`;
  for (const uri of distinct) {
    const problem = redirectUriProblem(uri);
    if (problem) return problem;
  }
  return null;
}
