import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import { isLoopbackAddress, normalizeAddress } from '@memegraph/service-kit';

export { isLoopbackAddress, normalizeAddress };

/**
 * Where a request came from, the one place the router decides it: anonymous
 * limits key on it, and the status page and `/metrics` open to loopback by it.
 *
 * `X-Forwarded-For` is read by proxy-addr and believed only past the proxies
 * named in `TRUST_PROXY` (addresses, CIDR ranges, or proxy-addr's names
 * `loopback`, `linklocal`, `uniquelocal`): the address taken is the nearest one
 * that is not a trusted proxy, since everything to its left was written by the
 * client and proves nothing. Hops written with a port (`203.0.113.9:5555`,
 * `[2001:db8::5]:443`) or in brackets are read as their address, so a port
 * cannot make one client many, nor an address with a port pass for loopback.
 */
export function createClientAddress(trustedProxies: readonly string[]): (req: IncomingMessage) => string {
  const trust = proxyAddr.compile([...trustedProxies]);
  return (req) => {
    const peer = req.socket.remoteAddress ?? 'unknown';
    const header = req.headers['x-forwarded-for'];
    // Nothing is believed from a peer that is not a trusted proxy: no need to read the header.
    if (header === undefined || !trust(peer, 0)) return normalizeAddress(peer);
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map(hopAddress).filter(Boolean);
    if (hops.length === 0) return normalizeAddress(peer);
    return normalizeAddress(
      proxyAddr(
        {
          socket: { remoteAddress: peer },
          headers: { 'x-forwarded-for': hops.join(', ') },
        } as unknown as IncomingMessage,
        trust,
      ),
    );
  };
}

/** The address of one `X-Forwarded-For` hop, without the port or brackets some proxies write. */
export function hopAddress(hop: string): string {
  const text = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const withPort = /^([^:]+):\d+$/.exec(text);
  if (withPort && isIP(withPort[1]!) === 4) return withPort[1]!;
  return text;
}
