/**
 * `GET /downloads/presence-daemon.tgz`: the standalone daemon package that
 * `npm run build:daemon` packs, so a device installs it from its own server
 * with `npm install -g <server>/downloads/presence-daemon.tgz`; and
 * `GET /downloads/presence-client.tgz`, the AppService client that
 * `npm run build:client` packs.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const DAEMON_PACKAGE_PATH = '/downloads/presence-daemon.tgz';
export const CLIENT_PACKAGE_PATH = '/downloads/presence-client.tgz';

export interface DownloadRouteDeps {
  /** The packed daemon (DAEMON_PACKAGE_FILE); it may not exist when only the server was built. */
  daemonPackageFile: string;
  /** The packed AppService client (CLIENT_PACKAGE_FILE); likewise. */
  clientPackageFile?: string;
}

/** Each download: its file, the name it is saved under, and what it is called when missing. */
function downloadAt(deps: DownloadRouteDeps, pathname: string): { file: string; name: string; what: string; script: string } | null {
  if (pathname === DAEMON_PACKAGE_PATH) return { file: deps.daemonPackageFile, name: 'presence-daemon.tgz', what: 'daemon', script: 'build:daemon' };
  if (pathname === CLIENT_PACKAGE_PATH && deps.clientPackageFile) {
    return { file: deps.clientPackageFile, name: 'presence-client.tgz', what: 'client', script: 'build:client' };
  }
  return null;
}

interface CachedFile {
  /** What the cache entry was read at: a rebuild changes one of them. */
  version: string;
  bytes: Buffer;
  etag: string;
}

/** By file: a few packages, each read again only when rebuilt. */
const cached = new Map<string, CachedFile>();

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
  const known = cached.get(file);
  if (known?.version === version) return known;
  const bytes = await readFile(file);
  const entry = { version, bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url')}"` };
  cached.set(file, entry);
  return entry;
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers }).end(text);
}

/** Answers the download paths and returns true; any other path is left to the caller. */
export async function handleDownloadRequest(deps: DownloadRouteDeps, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  const download = downloadAt(deps, pathname);
  if (!download) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Method not allowed: use GET\n', { Allow: 'GET, HEAD' });
    return true;
  }
  const file = await readPackage(download.file);
  if (!file) {
    sendText(
      res,
      404,
      `The ${download.what} package has not been built on this server: its operator runs \`npm run build\` (or \`npm run ${download.script}\`).\n`,
    );
    return true;
  }
  // Revalidated on every use: a server upgrade ships a new package under the same name.
  const headers = { ETag: file.etag, 'Cache-Control': 'no-cache' };
  if (req.headers['if-none-match']?.split(',').some((tag) => tag.trim() === file.etag)) {
    res.writeHead(304, headers).end();
    return true;
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': 'application/gzip',
    'Content-Length': String(file.bytes.length),
    'Content-Disposition': `attachment; filename="${download.name}"`,
  });
  res.end(req.method === 'HEAD' ? undefined : file.bytes);
  return true;
}
