/**
 * A desktop session for native notification tests: an X display (Xvfb), a
 * D-Bus session bus and dunst in it, each a child of this process. What
 * dunst shows and keeps is read back, and driven, with `dunstctl`.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const REQUIRED = ['Xvfb', 'dbus-daemon', 'dunst', 'dunstctl'];

/** The programs a desktop session needs that this machine lacks. */
export function missingDesktopPrograms(): string[] {
  return REQUIRED.filter((bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
}

/** Reads the first line a child writes on the given stream. */
async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    text += chunk as string;
    if (text.includes('\n')) return text.slice(0, text.indexOf('\n')).trim();
  }
  throw new Error(`stream ended before a line: ${JSON.stringify(text)}`);
}

export interface Desktop {
  /** DISPLAY and DBUS_SESSION_BUS_ADDRESS of the session. */
  env: Record<string, string>;
  /** Runs dunstctl in this session. */
  dunstctl(args: string[]): Promise<string>;
  /** How many notifications dunst has on screen or waiting for room (those count as popups raised). */
  openCount(): Promise<number>;
  /** Closes what is on screen (closed notifications go to the history) and reads the history, oldest first. */
  shown(): Promise<HistoryEntry[]>;
  stop(): Promise<void>;
}

export interface HistoryEntry {
  id: number;
  appname: string;
  summary: string;
  body: string;
  /** What dunst renders: its format with the summary escaped and the body as markup. */
  message: string;
  /** dunst's timeout for it, in microseconds (0: never). */
  timeout: number;
}

const run = promisify(execFile);

/**
 * dunst's settings here: no default timeout, so a notification closes only
 * when its sender's expire_timeout says so, the user closes it, or its sender
 * closes it; and no cap on how many are on screen, so every popup raised counts.
 */
const DUNSTRC = `[global]
    notification_limit = 0
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
`;

/** Starts a display, a session bus and dunst; `stop` ends them together. */
export async function startDesktop(): Promise<Desktop> {
  const children: ChildProcess[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'presence-desktop-'));
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await writeFile(path.join(dir, 'dunstrc'), DUNSTRC);
    // -displayfd: Xvfb picks a free display and writes its number on fd 3.
    const xvfb = spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '640x480x24'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    children.push(xvfb);
    const display = await firstLine(xvfb.stdio[3] as NodeJS.ReadableStream);
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(bus);
    const address = await firstLine(bus.stdout as NodeJS.ReadableStream);
    const env = { DISPLAY: `:${display}`, DBUS_SESSION_BUS_ADDRESS: address };
    const dunstctl = (args: string[]) => run('dunstctl', args, { env: { ...process.env, ...env } }).then((result) => result.stdout);
    const dunst = spawn('dunst', ['-config', path.join(dir, 'dunstrc')], { env: { ...process.env, ...env }, stdio: 'ignore' });
    children.push(dunst);
    // dunst is ready once it answers on the bus.
    for (
      let attempt = 0;
      !(await dunstctl(['is-paused']).then(
        () => true,
        () => false,
      ));
      attempt++
    ) {
      if (attempt === 100) throw new Error('dunst did not come up on the session bus');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const count = async (which: string) => Number((await dunstctl(['count', which])).trim());
    return {
      env,
      dunstctl,
      openCount: async () => (await count('displayed')) + (await count('waiting')),
      async shown() {
        await dunstctl(['close-all']);
        const history = JSON.parse(await dunstctl(['history'])) as { data: Record<string, { data: unknown }>[][] };
        // dunst lists its history newest first.
        return (history.data[0] ?? [])
          .map((entry) => ({
            id: entry.id?.data as number,
            appname: entry.appname?.data as string,
            summary: entry.summary?.data as string,
            body: entry.body?.data as string,
            message: entry.message?.data as string,
            timeout: entry.timeout?.data as number,
          }))
          .reverse();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
