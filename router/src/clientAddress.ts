import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Where a request came from, the one place the router decides it: anonymous
 * limits key on it and the status page opens to loopback by it.
 *
 * `X-Forwarded-For` is believed only from the proxies named in `TRUST_PROXY`:
 * the address taken is the nearest one that is not a trusted proxy, since
 * everything to its left was written by the client and proves nothing.
 */
export function createClientAddress(trustedProxies: readonly string[]): (req: IncomingMessage) => string {
  const trusted = new Set(trustedProxies.map(normalizeAddress));
  const trustLoopback = trusted.has('loopback');
  const isTrusted = (address: string) => trusted.has(address) || (trustLoopback && isLoopbackAddress(address));
  return (req) => {
    const peer = normalizeAddress(req.socket.remoteAddress ?? 'unknown');
    if (!isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((hop) => normalizeAddress(hop.trim()))
      .filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      // A hop that is not an address means the chain was tampered with: stop at the last proxy.
      if (isIP(hop) === 0) return peer;
      if (!isTrusted(hop)) return hop;
    }
    return peer;
  };
}

/** `::ffff:127.0.0.1` is IPv4 127.0.0.1 as a dual-stack socket reports it. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

export function isLoopbackAddress(address: string): boolean {
  const normalized = normalizeAddress(address);
  if (isIP(normalized) === 4) return normalized.startsWith('127.');
  return normalized === '::1';
}
