/** What a notification's action may be (README.md: `action` and "Refused schemes"): pure checks, no database. */
import { describe, it, expect } from 'vitest';
import { commandFor } from '../../src/daemon/actions.ts';
import { FORBIDDEN_SCHEMES, actionRefusal, isForbiddenScheme, isRegistrableScheme } from '../../src/shared/action.ts';

describe('actionRefusal: web URLs', () => {
  it.each([
    'https://example.com',
    'https://example.com/',
    'http://example.com/room/1?x=1#top',
    'https://chat.example/#general',
    'http://localhost:3000/path',
    'https://127.0.0.1:8443/',
    'https://[::1]/',
    'https://example.com/@user',
    'https://example.com/?to=a@b.example',
    'https://xn--bcher-kva.example/',
    'HTTPS://EXAMPLE.COM/UPPER',
    'Http://Example.com/',
  ])('accepts %s', (action) => {
    expect(actionRefusal(action, [])).toBeNull();
  });

  it.each([
    ['http:foo', 'no "//": new URL accepts it, a browser does not open a host'],
    ['https:example.com', 'no "//"'],
    ['http:/example.com', 'one slash'],
    ['https://', 'no host'],
    ['http://', 'no host'],
    ['https:///path', 'empty host'],
    ['https://?query', 'empty host before the query'],
    ['https://#fragment', 'empty host before the fragment'],
    ['https://exa%mple.com/', 'a host new URL cannot parse'],
  ])('refuses %s (%s)', (action) => {
    expect(actionRefusal(action, ['http', 'https'])).toMatch(/http\(s\) action|valid URL|host/);
  });

  it('refuses web URLs with spaces, control or invisible formatting characters anywhere', () => {
    for (const bad of [' ', '\t', '\n', '\r', '\u0000', '\u001f', '\u007f', '\u0085', '\u009f', '\u2028', '\u2029', '\u202e', '\u200b', '\u00ad', '\ufeff']) {
      expect(actionRefusal(`https://example.com/a${bad}b`, []), JSON.stringify(bad)).toBe('action must not contain spaces or control characters');
      expect(actionRefusal(`${bad}https://example.com/`, []), JSON.stringify(bad)).toBe('action must not contain spaces or control characters');
    }
  });

  it('accepts non-ASCII text that is not a control character', () => {
    expect(actionRefusal('https://example.com/café/😀', [])).toBeNull();
    expect(actionRefusal('chat://room/über', ['chat'])).toBeNull();
  });
});

describe('actionRefusal: deep links', () => {
  it('accepts a registered scheme, in any case', () => {
    expect(actionRefusal('chat://room/42', ['chat'])).toBeNull();
    expect(actionRefusal('chat:room/42', ['chat'])).toBeNull();
    expect(actionRefusal('CHAT://room/42', ['chat'])).toBeNull();
    expect(actionRefusal('Chat://room/42', ['demo', 'chat'])).toBeNull();
    expect(actionRefusal('my-app+x.v2://open', ['my-app+x.v2'])).toBeNull();
  });

  it('refuses a scheme the app did not register', () => {
    expect(actionRefusal('chat://room/42', [])).toBe('scheme "chat:" is not registered for this app');
    expect(actionRefusal('ftp://example.com/file', ['chat'])).toBe('scheme "ftp:" is not registered for this app');
    expect(actionRefusal('mailto:ada@example.com', ['chat'])).toBe('scheme "mailto:" is not registered for this app');
    expect(actionRefusal('CHAT://room/42', ['demo'])).toBe('scheme "chat:" is not registered for this app');
  });

  it.each(['javascript', 'data', 'file', 'vbscript', 'blob'])('always refuses %s:, even when "registered", in any case', (scheme) => {
    expect(FORBIDDEN_SCHEMES.has(scheme)).toBe(true);
    const refusal = `scheme "${scheme}:" is never allowed`;
    expect(actionRefusal(`${scheme}:alert(1)`, [scheme])).toBe(refusal);
    expect(actionRefusal(`${scheme.toUpperCase()}:alert(1)`, [scheme])).toBe(refusal);
    expect(actionRefusal(`${scheme[0]?.toUpperCase()}${scheme.slice(1)}://x`, [scheme, 'chat'])).toBe(refusal);
  });

  it('refuses the classic javascript: payloads', () => {
    expect(actionRefusal('javascript:alert(document.cookie)', ['javascript'])).toBe('scheme "javascript:" is never allowed');
    expect(actionRefusal('data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', ['data'])).toBe('scheme "data:" is never allowed');
    expect(actionRefusal('file:///etc/passwd', ['file'])).toBe('scheme "file:" is never allowed');
    // Whitespace and control characters cannot be used to hide the scheme.
    expect(actionRefusal('java\tscript:alert(1)', ['chat'])).not.toBeNull();
    expect(actionRefusal(' javascript:alert(1)', ['chat'])).not.toBeNull();
    expect(actionRefusal('\u0001javascript:alert(1)', ['chat'])).not.toBeNull();
  });

  it('refuses a deep link with nothing after the scheme', () => {
    expect(actionRefusal('chat:', ['chat'])).toBe('deep link has nothing after the scheme');
  });

  it.each(['', 'no-colon-at-all', ':nothing-before', '1chat://room', '-chat://room', 'ch at://room', 'ch_at://room', '//example.com/path', '/relative/path'])(
    'refuses %j: neither a URL nor a deep link',
    (action) => {
      expect(actionRefusal(action, ['chat', '1chat', 'ch_at'])).not.toBeNull();
    },
  );
});

describe('isRegistrableScheme', () => {
  it.each(['chat', 'demo', 'my-app', 'x+y.z', 'a1', 'a', 'a'.repeat(32), 'mailto', 'ftp'])('accepts %s', (scheme) => {
    expect(isRegistrableScheme(scheme)).toBe(true);
  });

  it.each([
    'http',
    'https',
    'javascript',
    'data',
    'file',
    'vbscript',
    'blob',
    'about',
    'filesystem',
    'a'.repeat(33),
    '',
    '1chat',
    '-chat',
    '+chat',
    'Chat',
    'CHAT',
    'ch_at',
    'ch at',
    'chat:',
    'ch/at',
    'çhat',
  ])('refuses %j', (scheme) => {
    expect(isRegistrableScheme(scheme)).toBe(false);
  });
});

/** Schemes whose handlers run local code, open local or remote files, or reach browser internals. */
const dangerousSchemes = [
  // Windows handlers behind known remote code execution and credential leaks
  'ms-msdt',
  'search-ms',
  'search',
  'ms-officecmd',
  'ms-excel',
  'ms-word',
  'ms-powerpoint',
  'ms-visio',
  'ms-access',
  'ms-settings',
  'ms-appinstaller',
  'ms-cxh',
  'ms-its',
  'ms-anything-new',
  'microsoft-edge',
  'shell',
  'hcp',
  'res',
  'its',
  'mk',
  'mhtml',
  // local and network files
  'file',
  'smb',
  'cifs',
  'nfs',
  'afp',
  'dav',
  'davs',
  'webdav',
  'sftp',
  // browser internals and code
  'chrome',
  'chrome-extension',
  'chrome-untrusted',
  'edge',
  'opera',
  'brave',
  'vivaldi',
  'about',
  'view-source',
  'javascript',
  'vbscript',
  'livescript',
  'data',
  'blob',
  'filesystem',
  'jar',
  'resource',
  'moz-extension',
  'moz-icon',
  'wyciwyg',
  'safari-extension',
  // mobile and desktop OS handlers, Java
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
];

describe('refused schemes: OS and browser handlers that run local code', () => {
  it.each(dangerousSchemes)('refuses to register %s: and refuses it in an action even if it was registered', (scheme) => {
    expect(isForbiddenScheme(scheme)).toBe(true);
    expect(isRegistrableScheme(scheme)).toBe(false);
    expect(actionRefusal(`${scheme}:/id%20PCWDiagnostic`, [scheme])).toBe(`scheme "${scheme}:" is never allowed`);
    expect(actionRefusal(`${scheme.toUpperCase()}://x`, [scheme])).toBe(`scheme "${scheme}:" is never allowed`);
  });

  it('keeps the set of named schemes and the ms- family in one rule the daemon and the device page share', () => {
    for (const scheme of FORBIDDEN_SCHEMES) expect(isForbiddenScheme(scheme)).toBe(true);
    expect(isForbiddenScheme('ms-brand-new-handler')).toBe(true);
    expect(isForbiddenScheme('chat')).toBe(false);
    expect(isForbiddenScheme('msteams')).toBe(false);
    expect(isForbiddenScheme('mailto')).toBe(false);
  });

  it('is the rule the daemon applies too: it opens none of them, not even with a command configured', () => {
    for (const scheme of dangerousSchemes) expect(commandFor(`${scheme}:x`, { [scheme]: ['handler', '{action}'] }), scheme).toBeNull();
    expect(commandFor('chat:x', { chat: ['handler', '{action}'] })).toEqual(['handler', 'chat:x']);
  });
});

describe('actionRefusal: no user name or password in web links', () => {
  it.each([
    'https://user:pass@evil.example@good.example/',
    'https://user@example.com/',
    'https://user:pass@example.com/',
    'https://good.example@evil.example/',
    'http://@example.com/',
    'https://:@example.com/',
    'HTTPS://a@example.com',
    'https://evil.example%40good.example@good.example/',
  ])('refuses %s', (action) => {
    expect(actionRefusal(action, [])).toBe('http(s) action must not carry a user name or password (user@host)');
  });
});
