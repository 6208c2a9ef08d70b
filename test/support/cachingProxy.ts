import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A shared HTTP cache (a CDN, a company proxy) in front of one server, as
 * RFC 9111 says a shared cache behaves, reduced to what GraphQL over HTTP
 * needs:
 *
 * - only answers to GET are stored (§3), with a status that is final and
 *   understood, and only with explicit freshness (`s-maxage`, `max-age`;
 *   no heuristics), never `no-store` or `private` ones (§5.2.2.5, §5.2.2.7);
 * - an answer to a request that carried `Authorization` is stored only when
 *   it says `public`, `s-maxage` or `must-revalidate` (§3.5);
 * - with `heuristicSeconds`, an answer that says nothing of its freshness is
 *   kept that long (§4.2.2 lets a cache choose; Fastly keeps such 200 and
 *   404 answers an hour);
 * - entries are keyed by the URL, and each one by the values the request had
 *   for the header names its answer listed in `Vary` (§4.1); `Vary: *` never
 *   matches;
 * - a stored answer is served while fresh (`s-maxage` over `max-age`, minus
 *   its `Age` and its time here; §4.2), with its own headers and a new `Age`;
 * - a request saying `no-cache` or `no-store` goes to the server (§5.2.1);
 * - a successful unsafe request invalidates the URL's entries (§4.4).
 */
export interface CachingProxy {
  /** The proxy's origin plus `path`. */
  url(path?: string): string;
  /** Answers served from the cache and passed to the server. */
  stats: { hits: number; forwarded: number };
  close(): Promise<void>;
}

export interface CachingProxyOptions {
  /** The clock, in milliseconds: a test can move time on without waiting. */
  now?: () => number;
  /** Seconds to keep an answer with no freshness of its own (no max-age, no no-cache): a CDN's heuristics. */
  heuristicSeconds?: number;
}

interface Stored {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The request header values the answer's Vary names, lower-case names. */
  varied: Map<string, string | undefined>;
  /** Vary: * — reusable for no request. */
  varyAny: boolean;
  /** Seconds of freshness from the server's point of view. */
  lifetime: number;
  /** The answer's Age when it arrived, in seconds. */
  ageAtArrival: number;
  arrivedAt: number;
}

/** Status codes a cache understands and may store (final, "heuristically cacheable" per RFC 9110 §15.1). */
const STORABLE_STATUS = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** Cache-Control directives as a map: names lower-case, values unquoted. */
export function directives(header: string | string[] | undefined): Map<string, string | true> {
  const map = new Map<string, string | true>();
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const part of text.split(',')) {
    const [rawName, ...rest] = part.split('=');
    const name = rawName!.trim().toLowerCase();
    if (!name) continue;
    map.set(
      name,
      rest.length
        ? rest
            .join('=')
            .trim()
            .replace(/^"(.*)"$/, '$1')
        : true,
    );
  }
  return map;
}

const seconds = (value: string | true | undefined) => {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
};

/** A request header's value as a cache compares it: several fields joined, whitespace trimmed. */
function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(', ') : value).trim();
}

function varyNames(headers: IncomingHttpHeaders): string[] {
  const value = headers.vary;
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return text
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
}

/** Whether a shared cache may store this answer to a GET with these request headers, and for how long. */
function storableLifetime(
  requestHeaders: IncomingHttpHeaders,
  status: number,
  responseHeaders: IncomingHttpHeaders,
  heuristicSeconds: number | undefined,
): number | null {
  if (!STORABLE_STATUS.has(status)) return null;
  const request = directives(requestHeaders['cache-control']);
  if (request.has('no-store')) return null;
  const response = directives(responseHeaders['cache-control']);
  if (response.has('no-store') || response.has('private')) return null;
  const sMaxAge = seconds(response.get('s-maxage'));
  const maxAge = seconds(response.get('max-age'));
  if (
    requestHeaders.authorization !== undefined &&
    !response.has('public') &&
    sMaxAge === undefined &&
    !response.has('must-revalidate')
  )
    return null;
  const lifetime = sMaxAge ?? maxAge;
  if (lifetime !== undefined) return lifetime;
  // Heuristics only when asked for, and never for an answer to be validated first.
  return heuristicSeconds !== undefined && !response.has('no-cache') && requestHeaders.authorization === undefined
    ? heuristicSeconds
    : null;
}

export async function startCachingProxy(target: string, options: CachingProxyOptions = {}): Promise<CachingProxy> {
  const upstream = new URL(target);
  const now = options.now ?? Date.now;
  const entries = new Map<string, Stored[]>();
  const stats = { hits: 0, forwarded: 0 };

  const matches = (entry: Stored, headers: IncomingHttpHeaders) =>
    !entry.varyAny && [...entry.varied].every(([name, value]) => headerValue(headers, name) === value);
  const currentAge = (entry: Stored) => entry.ageAtArrival + Math.floor((now() - entry.arrivedAt) / 1000);

  const server = http.createServer((req, res) => {
    const key = req.url ?? '/';
    const method = req.method ?? 'GET';
    const request = directives(req.headers['cache-control']);
    if (method === 'GET' && !request.has('no-cache') && !request.has('no-store')) {
      const entry = entries.get(key)?.find((candidate) => matches(candidate, req.headers));
      if (entry && currentAge(entry) < entry.lifetime) {
        stats.hits++;
        const headers: OutgoingHttpHeaders = {
          ...entry.headers,
          age: String(currentAge(entry)),
          'x-proxy-cache': 'HIT',
        };
        res.writeHead(entry.status, headers).end(entry.body);
        return;
      }
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      stats.forwarded++;
      const headers = { ...req.headers, host: upstream.host };
      const outgoing = http.request(
        { host: upstream.hostname, port: upstream.port, path: key, method, headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            const status = answer.statusCode ?? 502;
            const payload = Buffer.concat(body);
            if (method === 'GET') {
              const lifetime = storableLifetime(req.headers, status, answer.headers, options.heuristicSeconds);
              if (lifetime !== null) {
                const names = varyNames(answer.headers);
                const stored: Stored = {
                  status,
                  headers: { ...answer.headers },
                  body: payload,
                  varied: new Map(
                    names.filter((name) => name !== '*').map((name) => [name, headerValue(req.headers, name)]),
                  ),
                  varyAny: names.includes('*'),
                  lifetime,
                  ageAtArrival: seconds(answer.headers.age) ?? 0,
                  arrivedAt: now(),
                };
                // One entry per variant: a new answer replaces the one for the same request headers.
                const others = (entries.get(key) ?? []).filter((entry) => !matches(entry, req.headers));
                entries.set(key, [...others, stored]);
              }
            } else if (method !== 'HEAD' && status < 400) {
              entries.delete(key);
            }
            res.writeHead(status, { ...answer.headers, 'x-proxy-cache': 'MISS' }).end(payload);
          });
        },
      );
      outgoing.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('upstream failed');
      });
      outgoing.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (path = '') => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    stats,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
