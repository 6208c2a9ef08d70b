import { isIP } from 'node:net';

/** Lower case, and `::ffff:127.0.0.1` as the IPv4 127.0.0.1 it is (dual-stack sockets report it so). */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** 127.0.0.0/8 and ::1, in either notation a socket reports; anything that is not an address is not loopback. */
export function isLoopbackAddress(address: string): boolean {
  const normalized = normalizeAddress(address);
  if (isIP(normalized) === 4) return normalized.startsWith('127.');
  return normalized === '::1';
}
