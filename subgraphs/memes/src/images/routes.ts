import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, sendError, type Queryable, type Route } from '@memegraph/service-kit';
import { memeWithArt, templatesByIds } from '../store';
import { parseArt, renderMemeSvg, renderTemplateSvg } from './render';
import { verifyImageSignature } from './urls';

const MEME_IMAGE = /^\/images\/(\d{1,18})\.svg$/;
const TEMPLATE_IMAGE = /^\/images\/templates\/(\d{1,18})\.svg$/;

/**
 * Public image routes: `<img src>` cannot send the router's signed header.
 * Memes are never edited, so an image at a given URL never changes and may
 * be cached for a year; the ETag still saves the bytes on revalidation.
 */
export function imageRoutes(options: { db: Queryable; signingSecret: string }): Route[] {
  const meme: Route = async (req, res, url) => {
    const match = url.pathname.match(MEME_IMAGE);
    if (!match || !isRead(req)) return false;
    const id = BigInt(match[1]!).toString();
    const row = await memeWithArt(options.db, id);
    // Without a valid signature an AI meme answers exactly like a missing
    // one, so its existence is not revealed either.
    if (
      !row ||
      (row.origin === 'AI' && !verifyImageSignature(id, url.searchParams.get('sig'), options.signingSecret))
    ) {
      notFound(res);
      return true;
    }
    sendSvg(
      req,
      res,
      renderMemeSvg({ title: row.title, topText: row.top_text, bottomText: row.bottom_text }, parseArt(row.art)),
    );
    return true;
  };

  const template: Route = async (req, res, url) => {
    const match = url.pathname.match(TEMPLATE_IMAGE);
    if (!match || !isRead(req)) return false;
    const [row] = await templatesByIds(options.db, [BigInt(match[1]!).toString()]);
    if (!row) {
      notFound(res);
      return true;
    }
    sendSvg(req, res, renderTemplateSvg(parseArt(row.art), row.name));
    return true;
  };

  return [template, meme];
}

const isRead = (req: IncomingMessage) => req.method === 'GET' || req.method === 'HEAD';

// A meme created later may take this id, so a miss must not be cached.
const notFound = (res: ServerResponse) =>
  sendError(res, 404, ErrorCode.NOT_FOUND, 'No such image', { 'cache-control': 'no-store' });

function sendSvg(req: IncomingMessage, res: ServerResponse, svg: string): void {
  const body = Buffer.from(svg, 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const headers = {
    'content-type': 'image/svg+xml; charset=utf-8',
    'cache-control': 'public, max-age=31536000, immutable',
    etag,
    // The image is served from the API's origin: it must never run script or load anything.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    'x-content-type-options': 'nosniff',
  };
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** If-None-Match uses weak comparison: `W/` prefixes are ignored, and `*` matches anything. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}
