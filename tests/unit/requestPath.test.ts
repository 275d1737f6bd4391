import { describe, expect, it } from 'vitest';
import { normaliseRequestPath } from '../../src/server/http/requestPath.ts';

describe('normaliseRequestPath', () => {
  it('passes a path in normal form, with its query untouched', () => {
    expect(normaliseRequestPath('/admin/apps?x=%2F..')).toEqual({ kind: 'normal', pathname: '/admin/apps', search: '?x=%2F..' });
    expect(normaliseRequestPath('/')).toEqual({ kind: 'normal', pathname: '/', search: '' });
    expect(normaliseRequestPath('/admin/')).toEqual({ kind: 'normal', pathname: '/admin/', search: '' });
    expect(normaliseRequestPath('/chat/notification')).toEqual({ kind: 'normal', pathname: '/chat/notification', search: '' });
  });

  it('redirects dot segments, repeated slashes, escaped unreserved characters and the absolute form to the normal form', () => {
    const cases: [string, string][] = [
      ['/x/../admin', '/admin'],
      ['/%2e%2e/admin', '/admin'],
      ['/x/%2E%2e/admin/apps', '/admin/apps'],
      ['//admin', '/admin'],
      ['//evil.example/x', '/evil.example/x'],
      ['/admin/./', '/admin/'],
      ['/./admin', '/admin'],
      ['/admin/apps/..', '/admin/'],
      ['/../../admin', '/admin'],
      ['/%61dmin?q=1', '/admin?q=1'],
      ['/caf%c3%a9', '/caf%C3%A9'],
      ['http://localhost:3000/admin', '/admin'],
      ['HTTP://localhost:3000', '/'],
    ];
    for (const [target, location] of cases) expect(normaliseRequestPath(target), target).toEqual({ kind: 'redirect', location });
  });

  it('refuses escaped slashes and backslashes, malformed escapes, control characters and targets that are not paths', () => {
    for (const target of ['/admin%2Fapps', '/%2fadmin', '/x/..%5Cadmin', '/\\admin', '/admin%', '/admin%zz', '/a%00b', '/a\tb', '*', 'admin', '/a#b']) {
      expect(normaliseRequestPath(target), target).toEqual({ kind: 'invalid' });
    }
  });
});
