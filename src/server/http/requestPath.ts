/**
 * The normal form of a request path. The sign-in guard and the routes decide
 * on the path as written, while Next.js decodes and resolves it before
 * matching a page: `/x/../admin` or `/%61dmin` would reach the dashboard past
 * the guard. So a path is brought to its normal form first, and a request
 * that is not in it is redirected there (or refused) before anything decides.
 */

export type RequestPath =
  /** Already normal: route it. */
  | { kind: 'normal'; pathname: string; search: string }
  /** Not normal: redirect to `location` (the normal path and the query). */
  | { kind: 'redirect'; location: string }
  /** Nothing a page or route could mean: answer 400. */
  | { kind: 'invalid' };

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Decodes escapes of unreserved characters (`%61` → `a`, `%2E` → `.`) and
 * upper-cases the others; null for a malformed escape or an escaped slash,
 * backslash or control character, which no page or route of ours has.
 */
function normalEscapes(path: string): string | null {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i] as string;
    if (char !== '%') {
      out += char;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    const code = Number.parseInt(hex, 16);
    const decoded = String.fromCharCode(code);
    if (code < 0x20 || code === 0x7f || decoded === '/' || decoded === '\\') return null;
    out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

/** RFC 3986 dot-segment removal, with empty segments (`//`) dropped too. */
function resolveSegments(path: string): string {
  const segments: string[] = [];
  const parts = path.split('/').slice(1);
  parts.forEach((segment, index) => {
    const last = index === parts.length - 1;
    if (segment === '..') {
      segments.pop();
      if (last) segments.push('');
    } else if (segment === '.') {
      if (last) segments.push('');
    } else if (segment !== '' || last) {
      segments.push(segment);
    }
  });
  return `/${segments.join('/')}`;
}

/** Classifies a request target (`req.url`) by its path; the query is passed on untouched. */
export function normaliseRequestPath(target: string): RequestPath {
  let rest = target;
  let absolute = false;
  // The absolute form (`GET http://host/admin`) is for proxies; its path counts, in origin form.
  const absoluteForm = /^https?:\/\/[^/?#]*/i.exec(rest);
  if (absoluteForm) {
    rest = rest.slice(absoluteForm[0].length) || '/';
    absolute = true;
  }
  if (!rest.startsWith('/')) return { kind: 'invalid' };
  const queryAt = rest.indexOf('?');
  const raw = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const search = queryAt === -1 ? '' : rest.slice(queryAt);
  // Backslashes (which browsers read as slashes), fragments and control characters never come from a browser.
  if (/[\\#\u0000-\u001f\u007f]/.test(raw) || /[\u0000-\u001f\u007f]/.test(search)) return { kind: 'invalid' };
  const escaped = normalEscapes(raw);
  if (escaped === null) return { kind: 'invalid' };
  const pathname = resolveSegments(escaped);
  if (!absolute && pathname === raw) return { kind: 'normal', pathname, search };
  return { kind: 'redirect', location: `${pathname}${search}` };
}
