/**
 * `GET /downloads/presence-daemon.tgz`: the standalone daemon package that
 * `npm run build:daemon` packs, so a device installs it from its own server
 * with `npm install -g <server>/downloads/presence-daemon.tgz`.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const DAEMON_PACKAGE_PATH = '/downloads/presence-daemon.tgz';

export interface DownloadRouteDeps {
  /** The packed daemon (DAEMON_PACKAGE_FILE); it may not exist when only the server was built. */
  daemonPackageFile: string;
}

interface CachedFile {
  /** What the cache entry was read at: a rebuild changes one of them. */
  version: string;
  bytes: Buffer;
  etag: string;
}

let cached: CachedFile | null = null;

/** The file's bytes and a strong ETag, read again only when its size or time changed. */
async function readPackage(file: string): Promise<CachedFile | null> {
  let version: string;
  try {
    const info = await stat(file);
    version = `${file}:${info.size}:${info.mtimeMs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (cached?.version === version) return cached;
  const bytes = await readFile(file);
  cached = { version, bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url')}"` };
  return cached;
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers }).end(text);
}

/** Answers the download path and returns true; any other path is left to the caller. */
export async function handleDownloadRequest(deps: DownloadRouteDeps, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  if (pathname !== DAEMON_PACKAGE_PATH) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Method not allowed: use GET\n', { Allow: 'GET, HEAD' });
    return true;
  }
  const file = await readPackage(deps.daemonPackageFile);
  if (!file) {
    sendText(res, 404, 'The daemon package has not been built on this server: its operator runs `npm run build` (or `npm run build:daemon`).\n');
    return true;
  }
  // Revalidated on every use: a server upgrade ships a new daemon under the same name.
  const headers = { ETag: file.etag, 'Cache-Control': 'no-cache' };
  if (req.headers['if-none-match']?.split(',').some((tag) => tag.trim() === file.etag)) {
    res.writeHead(304, headers).end();
    return true;
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': 'application/gzip',
    'Content-Length': String(file.bytes.length),
    'Content-Disposition': 'attachment; filename="presence-daemon.tgz"',
  });
  res.end(req.method === 'HEAD' ? undefined : file.bytes);
  return true;
}
