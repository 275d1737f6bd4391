/**
 * What a click does: an http(s) action opens in the browser; a deep link runs
 * the command the user's config maps to its scheme, else the OS handler.
 * Never through a shell, and the daemon re-checks what the server allowed.
 */
import { spawn } from 'node:child_process';
import { isForbiddenScheme } from '../shared/action.ts';

export interface Opener {
  open(action: string): Promise<void>;
}

/** The program that hands a URL to the user's default handler on this OS. */
function osHandler(): [string, ...string[]] {
  switch (process.platform) {
    case 'darwin':
      return ['open'];
    case 'win32':
      return ['explorer.exe'];
    default:
      return ['xdg-open'];
  }
}

function run(argv: string[]): Promise<void> {
  const [command, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true, shell: false });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

/** The argv a click on `action` runs, or null if the daemon refuses it. */
export function commandFor(action: string, schemes: Record<string, string[]>): string[] | null {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(action)?.[1]?.toLowerCase();
  if (!scheme || isForbiddenScheme(scheme)) return null;
  if (scheme === 'http' || scheme === 'https') return /^https?:\/\/[^/?#\s]/i.test(action) ? [...osHandler(), action] : null;
  const mapped = schemes[scheme];
  return mapped ? mapped.map((arg) => arg.replaceAll('{action}', action)) : [...osHandler(), action];
}

export class SystemOpener implements Opener {
  constructor(private readonly schemes: Record<string, string[]>) {}

  async open(action: string): Promise<void> {
    const argv = commandFor(action, this.schemes);
    if (!argv) throw new Error(`refusing to open ${JSON.stringify(action)}`);
    await run(argv);
  }
}
