import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { mergeVary } from '../cache/httpHeaders';

const gzipAsync = promisify(gzip);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

export const contentTypeOf = (file: string) =>
  CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';

/** A year: the longest lifetime caches honour, for files whose URL changes with their content. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Kept, but revalidated (cheaply, by ETag) on every use. */
export const REVALIDATE = 'no-cache';

/**
 * Only this machine: pages load scripts, styles and data from the router
 * itself, never from a CDN, and cannot be framed. Styles may be inline:
 * the explorer's components inject theirs at run time.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every HTML page the router serves. */
export const PAGE_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Entry {
  body: Buffer;
  gzipped?: Promise<Buffer>;
  etag: string;
  /** What the entry was read from: a file that changes on disk is read again. */
  version: string;
}

const COMPRESSIBLE = /^(text\/|application\/(json|javascript|manifest)|image\/svg)/;

/**
 * Sends files and in-memory documents with an ETag, gzip when the client
 * takes it, and 304 for a matching `If-None-Match`. Entries are kept in
 * memory: the explorer's bundle is megabytes and served to every visitor.
 */
export class FileResponder {
  private readonly entries = new Map<string, Entry>();

  /** Sends the file at `file`; false when there is no such file. */
  async sendFile(
    req: IncomingMessage,
    res: ServerResponse,
    file: string,
    headers: Record<string, string>,
  ): Promise<boolean> {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return false;
    const version = `${info.size}:${info.mtimeMs}`;
    let entry = this.entries.get(file);
    if (entry?.version !== version) {
      entry = makeEntry(await readFile(file), version);
      this.entries.set(file, entry);
    }
    await send(req, res, entry, { 'content-type': contentTypeOf(file), ...headers });
    return true;
  }

  /** Sends a document made in memory (a page), under `key`. */
  async sendDocument(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<void> {
    let entry = this.entries.get(key);
    if (entry?.version !== body) {
      entry = makeEntry(Buffer.from(body), body);
      this.entries.set(key, entry);
    }
    await send(req, res, entry, headers);
  }
}

function makeEntry(body: Buffer, version: string): Entry {
  return { body, version, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

async function send(
  req: IncomingMessage,
  res: ServerResponse,
  entry: Entry,
  headers: Record<string, string>,
): Promise<void> {
  const contentType = headers['content-type'] ?? 'application/octet-stream';
  const common: Record<string, string> = { ...headers, etag: entry.etag, 'x-content-type-options': 'nosniff' };
  const compressible = COMPRESSIBLE.test(contentType) && entry.body.length > 1024;
  // Added to what the page varies by already (the explorer at /graphql: Accept).
  if (compressible) common.vary = mergeVary(headers.vary, 'accept-encoding');
  if (matchesEtag(req.headers['if-none-match'], entry.etag)) {
    res.writeHead(304, common).end();
    return;
  }
  let body = entry.body;
  if (compressible && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    entry.gzipped ??= gzipAsync(entry.body);
    body = await entry.gzipped;
    common['content-encoding'] = 'gzip';
  }
  res.writeHead(200, { ...common, 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value === etag || value === `W/${etag}`;
  });
}

/**
 * The file under `root` that a URL path names, or null when the path could
 * leave `root` (`..`, encoded separators, NUL, a symlink pointing out) or
 * names a dotfile.
 */
export async function resolveUnder(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter(Boolean);
  if (segments.some((s) => s.startsWith('.'))) return null;
  const candidate = path.resolve(root, ...segments);
  if (!isInside(root, candidate)) return null;
  const [realRoot, real] = await Promise.all([realpath(root).catch(() => null), realpath(candidate).catch(() => null)]);
  if (!realRoot || !real || !isInside(realRoot, real)) return null;
  return real;
}

const isInside = (root: string, file: string) =>
  file === root || file.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
