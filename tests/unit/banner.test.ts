/**
 * The start-up banner: standard output is a log unless it is a terminal, so
 * secrets are printed only to a terminal, and never one from the environment.
 */
import { describe, expect, it } from 'vitest';
import { startupBanner, type BannerOptions } from '../../src/server/banner.ts';

const dataDir = '/srv/presence-data';
const demo = {
  appid: 'demo',
  key: 'prs_app_demoKEYdemoKEYdemoKEY',
  userId: 'u',
  deviceId: 'd',
  deviceToken: 'prs_dev_demoTOKENdemoTOKEN',
  uid: 'AAAAAAAAAAAAAAAAAAAAAA',
};
const embedded = { url: 'postgresql://presence:pw@127.0.0.1:5432/presence', clusterDir: `${dataDir}/pgdata`, stop: async () => {} };

function banner(options: Partial<BannerOptions> & { operatorToken?: string | null }): string {
  return startupBanner({
    node: {
      url: 'http://localhost:3000',
      embedded,
      demo,
      operatorToken: options.operatorToken === undefined ? 'prs_adm_generatedOPERATOR' : options.operatorToken,
    },
    dataDir,
    interactive: false,
    operatorTokenFromEnvironment: false,
    ...options,
  });
}

describe('the start-up banner', () => {
  it('prints the generated operator token and the demo app key only to an interactive terminal', () => {
    const terminal = banner({ interactive: true });
    expect(terminal).toContain('operator token: prs_adm_generatedOPERATOR, kept in /srv/presence-data/admin-token');
    expect(terminal).toContain("-H 'Authorization: Bearer prs_app_demoKEYdemoKEYdemoKEY'");

    const log = banner({ interactive: false });
    expect(log).not.toContain('prs_adm_generatedOPERATOR');
    expect(log).not.toContain('prs_app_demoKEYdemoKEYdemoKEY');
    expect(log).toContain('operator token in /srv/presence-data/admin-token');
    expect(log).toContain('Bearer <key from /srv/presence-data/demo-credentials.json>');
    for (const text of [terminal, log]) expect(text).not.toContain('prs_dev_demoTOKENdemoTOKEN');
  });

  it('never prints an ADMIN_TOKEN from the environment, nor claims a file keeps it', () => {
    for (const interactive of [true, false]) {
      const text = banner({ interactive, operatorTokenFromEnvironment: true, operatorToken: 'operator-token-from-the-environment' });
      expect(text).not.toContain('operator-token-from-the-environment');
      expect(text).not.toContain('admin-token');
      expect(text).toContain('dashboard: http://localhost:3000/admin (sign in with ADMIN_TOKEN)');
    }
  });

  it('says when nobody can sign in', () => {
    expect(banner({ operatorToken: null })).toContain('(ADMIN_TOKEN is not set: nobody can sign in)');
  });
});
